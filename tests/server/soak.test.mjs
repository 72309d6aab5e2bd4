// A soak: 16 clients for WEDLM_SOAK_S seconds (default 150) of mixed traffic on kept-alive
// connections (streamed and whole chats, completions, tokenize, clients that leave mid-stream),
// the server's RSS sampled every 2 s. After a warm-up (the first quarter) RSS must stay flat:
// its peak in the second half within 10% + 16 MiB of its peak by the end of the warm-up. Every
// request is answered; afterwards nothing is running and every KV block is free.
// Its own CTest entry (server_soak); not run under the sanitizers, whose allocator holds memory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { root, startServer, idleMetrics, sample } from './harness.mjs';

const seconds = Number(process.env.WEDLM_SOAK_S ?? 150);
let srv;
before(async () => { srv = await startServer(['-np', '8', '--kv-size', '4096']); });
after(async () => { assert.equal((await srv.stop()).code, 0); });

const heldout = readFileSync(`${root}/tests/data/heldout_wedlm_tiny.jsonl`, 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l));
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

// One request on the client's kept-alive agent; resolves with the status (0: we left on purpose).
function call(agent, path, body, leaveAfterMs = 0) {
  return new Promise((ok) => {
    const req = http.request(`${srv.url}${path}`, { method: 'POST', agent,
      headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => ok(res.statusCode));
      if (leaveAfterMs) setTimeout(() => { req.destroy(); ok(0); }, leaveAfterMs);
    });
    req.on('error', (e) => ok(leaveAfterMs ? 0 : `error ${e.code}`));
    req.end(JSON.stringify(body));
  });
}

async function client(i, until, statuses) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let n = 0; Date.now() < until; n++) {
    const h = heldout[(i * 31 + n * 7) % heldout.length];
    const k = (i + n) % 10;
    const chat = { messages: [h.messages[0]], max_tokens: 8 + ((i * 13 + n) % 56), temperature: k % 2 ? 0.7 : 0,
                   seed: n, stream: k < 5, decode_mode: k === 3 ? 'ar' : 'wedlm' };
    let s;
    if (k === 8) s = await call(agent, '/tokenize', { content: h.messages[0].content });
    else if (k === 9) s = await call(agent, '/v1/completions', { prompt: h.prompt_ids, max_tokens: 16 });
    else if (n % 7 === 6) s = await call(agent, '/v1/chat/completions', { ...chat, stream: true, max_tokens: 200, ignore_eos: true }, 30);
    else s = await call(agent, '/v1/chat/completions', chat);
    statuses.push(s);
  }
  agent.destroy();
}

test(`soak: ${seconds} s of mixed traffic, RSS flat after warm-up, nothing leaked`, { skip: seconds <= 0 && 'WEDLM_SOAK_S=0' }, async () => {
  const t0 = Date.now();
  const until = t0 + seconds * 1000;
  const samples = [];
  const sampler = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, mib: rssMiB(srv.proc.pid) }), 2000);
  const statuses = [];
  await Promise.all(Array.from({ length: 16 }, (_, i) => client(i, until, statuses)));
  clearInterval(sampler);
  const warm = samples.filter((s) => s.t <= seconds / 4);
  const late = samples.filter((s) => s.t >= seconds / 2);
  const warmPeak = Math.max(...warm.map((s) => s.mib));
  const latePeak = Math.max(...late.map((s) => s.mib));
  const bad = statuses.filter((s) => s !== 200 && s !== 0);
  console.log(`soak ${seconds} s: ${statuses.length} requests (${statuses.filter((s) => s === 0).length} left mid-stream), ` +
              `${bad.length} failed; RSS MiB: start ${samples[0]?.mib.toFixed(1)}, warm-up peak ${warmPeak.toFixed(1)}, ` +
              `second-half peak ${latePeak.toFixed(1)}, end ${samples.at(-1)?.mib.toFixed(1)}`);
  assert.equal(bad.length, 0, JSON.stringify(bad.slice(0, 5)));
  assert.ok(warm.length >= 2 && late.length >= 2, 'enough samples');
  assert.ok(latePeak <= warmPeak * 1.1 + 16, `RSS grew: ${warmPeak.toFixed(1)} -> ${latePeak.toFixed(1)} MiB`);
  const m = await idleMetrics(srv.url);
  assert.equal(sample(m, 'wedlm:num_requests_running'), 0);
  assert.equal(sample(m, 'wedlm:num_requests_waiting'), 0);
  assert.equal(sample(m, 'wedlm:kv_cache_blocks_in_use'), 0);
});
