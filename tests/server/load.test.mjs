// Many clients at once and clients that leave: 32 concurrent streaming clients get exactly what
// each gets alone; a client that disconnects mid-stream cancels its request and frees its KV
// blocks; SIGTERM drains in-flight requests and exits 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { root, startServer, post, metrics, sample, sseEvents, sleep } from './harness.mjs';

let srv, client;
before(async () => {
  srv = await startServer(['-np', '8', '--kv-size', '3072']);
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => { assert.equal((await srv.stop()).code, 0); });

const heldout = readFileSync(`${root}/tests/data/heldout_wedlm_tiny.jsonl`, 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l));

// Request i: a held-out user message; greedy or seeded sampling; WeDLM or AR; chat or completions.
function request(i) {
  const h = heldout[(i * 37) % heldout.length];
  const p = { model: 'wedlm-tiny', max_tokens: 120, temperature: i % 3 === 1 ? 0.8 : 0, seed: 500 + i,
              decode_mode: i % 4 === 3 ? 'ar' : 'wedlm' };
  if (i % 5 === 4) return { kind: 'completions', params: { ...p, prompt: h.prompt_ids } };
  return { kind: 'chat', params: { ...p, messages: [h.messages[0]] } };
}

async function alone(r) {
  if (r.kind === 'chat') {
    const x = await client.chat.completions.create(r.params);
    return { text: x.choices[0].message.content, finish: x.choices[0].finish_reason, n: x.usage.completion_tokens };
  }
  const x = await client.completions.create(r.params);
  return { text: x.choices[0].text, finish: x.choices[0].finish_reason, n: x.usage.completion_tokens };
}

async function streamed(r) {
  const api = r.kind === 'chat' ? client.chat.completions : client.completions;
  const s = await api.create({ ...r.params, stream: true, stream_options: { include_usage: true } });
  let text = '', finish = null, n = null;
  for await (const c of s) {
    if (c.usage) n = c.usage.completion_tokens;
    const ch = c.choices[0];
    if (!ch) continue;
    text += (r.kind === 'chat' ? ch.delta.content : ch.text) ?? '';
    finish = ch.finish_reason ?? finish;
  }
  return { text, finish, n };
}

test('32 concurrent streaming clients get what they get alone', async () => {
  const reqs = Array.from({ length: 32 }, (_, i) => request(i));
  const want = [];
  for (const r of reqs) want.push(await alone(r));
  const got = await Promise.all(reqs.map(streamed));
  for (let i = 0; i < reqs.length; i++) assert.deepEqual(got[i], want[i], `request ${i}`);
  const m = await metrics(srv.url);
  assert.equal(sample(m, 'wedlm:num_requests_running'), 0);
  assert.equal(sample(m, 'wedlm:num_requests_waiting'), 0);
  assert.equal(sample(m, 'wedlm:kv_cache_blocks_in_use'), 0);
  assert.equal(m.includes('status="5'), false, 'no server errors');
});

// Waits until nothing runs, every block is free and `aborts` requests ended with "abort".
async function settle(url, aborts) {
  for (let i = 0; i < 250; i++) {
    const m = await metrics(url);
    if (sample(m, 'wedlm:num_requests_running') === 0 && sample(m, 'wedlm:kv_cache_blocks_in_use') === 0 &&
        sample(m, 'wedlm:request_success_total{finished_reason="abort"}') === aborts)
      return m;
    await sleep(20);
  }
  return metrics(url);
}

test('a client that disconnects mid-stream cancels its request and frees its blocks', async () => {
  const before = await metrics(srv.url);
  const aborts0 = sample(before, 'wedlm:request_success_total{finished_reason="abort"}') ?? 0;
  const body = { messages: [{ role: 'user', content: 'Count from 1 to 100.' }], temperature: 0,
                 decode_mode: 'ar', ignore_eos: true, max_tokens: 900, stream: true };
  for (let k = 0; k < 4; k++) {
    const ctl = new AbortController();
    const r = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      signal: ctl.signal });
    const reader = r.body.getReader();
    await reader.read();  // the first chunk
    let held = 0;
    for (let i = 0; i < 100 && !held; i++, await sleep(10))
      held = sample(await metrics(srv.url), 'wedlm:kv_cache_blocks_in_use');
    assert.ok(held > 0, 'the request holds blocks');
    ctl.abort();
  }
  const m = await settle(srv.url, aborts0 + 4);
  assert.equal(sample(m, 'wedlm:num_requests_running'), 0);
  assert.equal(sample(m, 'wedlm:kv_cache_blocks_in_use'), 0, 'every block is free again');
  assert.equal(sample(m, 'wedlm:request_success_total{finished_reason="abort"}'), aborts0 + 4);
  await sleep(100);  // the log lines follow the metrics
  const lines = srv.logs.filter((l) => l.event === 'request' && l.client_gone);
  assert.equal(lines.length, 4);
  for (const l of lines) {
    assert.equal(l.finish_reason, 'abort');
    assert.ok(l.completion_tokens < 900, 'cancelled before the end');
  }
});

test('a non-streaming client that disconnects is noticed too (whitespace heartbeats)', async () => {
  const aborts0 = sample(await metrics(srv.url), 'wedlm:request_success_total{finished_reason="abort"}') ?? 0;
  const ctl = new AbortController();
  const pending = fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: ctl.signal,
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Count from 1 to 100.' }], temperature: 0,
                           decode_mode: 'ar', ignore_eos: true, max_tokens: 1000 }) });
  const r = await pending;  // headers come at once; the body after the reply is complete
  assert.equal(r.status, 200);
  await sleep(200);
  ctl.abort();
  const m = await settle(srv.url, aborts0 + 1);
  assert.equal(sample(m, 'wedlm:request_success_total{finished_reason="abort"}'), aborts0 + 1);
  assert.equal(sample(m, 'wedlm:kv_cache_blocks_in_use'), 0);
  await sleep(100);
  const line = srv.logs.filter((l) => l.event === 'request').at(-1);
  assert.equal(line.stream, false);
  assert.equal(line.client_gone, true);
  assert.ok(line.completion_tokens < 1000);
});

test('the request log: one JSON line per request, no prompt text', async () => {
  const secret = 'Count from 1 to 7.';
  await post(srv.url, '/v1/chat/completions', { messages: [{ role: 'user', content: secret }], temperature: 0 });
  await post(srv.url, '/v1/chat/completions', { messages: [{ role: 'user', content: secret }], n: 50 });
  await sleep(50);
  const lines = srv.logs.filter((l) => l.event === 'request');
  const [ok, bad] = lines.slice(-2);
  for (const k of ['id', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'ttft_ms', 'e2e_ms',
                   'forwards', 'tokens_per_forward', 'finish_reason', 'status'])
    assert.ok(k in ok, k);
  assert.equal(ok.status, 200);
  assert.equal(bad.status, 400);
  assert.equal(bad.param, 'n');
  assert.ok(!JSON.stringify(srv.logs).includes(secret), 'prompts are not logged by default');
});

// Starts a server, sends SIGTERM while a long AR stream is in flight; its SSE events and exit.
async function sigtermDuring(args, maxTokens) {
  const s = await startServer(['-np', '2', ...args]);
  const body = { messages: [{ role: 'user', content: 'Count from 1 to 100.' }], temperature: 0,
                 decode_mode: 'ar', ignore_eos: true, max_tokens: maxTokens, stream: true };
  const r = await fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value, { stream: true });
  s.proc.kill('SIGTERM');  // the stream has begun
  for (let c; !(c = await reader.read()).done;) text += decoder.decode(c.value, { stream: true });
  return { events: sseEvents(text), exit: await s.exited };
}

test('SIGTERM lets an in-flight stream finish, then exits 0', async () => {
  const { events, exit } = await sigtermDuring([], 400);
  assert.equal(events.at(-1), '[DONE]');
  assert.equal(JSON.parse(events.at(-2)).choices[0].finish_reason, 'length', 'finished, not cut');
  assert.equal(exit.code, 0);
});

test('SIGTERM with no grace cancels in-flight requests, which still end cleanly', async () => {
  const { events, exit } = await sigtermDuring(['--shutdown-grace', '0'], 900);
  assert.equal(events.at(-1), '[DONE]');
  assert.equal(JSON.parse(events.at(-2)).choices[0].finish_reason, 'abort');
  assert.equal(exit.code, 0);
});
