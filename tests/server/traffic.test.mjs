// Traffic an agent platform sends: bursts of new connections, many concurrent streams, long
// keep-alive connections, a second server on a taken port. Loopback only, bounded in time. The
// figures it prints (burst latencies) go to PERFORMANCE.md; the asserts are loose bounds that
// catch stalls and drops, not speed claims.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { bin, startServer, idleMetrics, metrics, sample, sseEvents, sleep } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(['-np', '32']); });
after(async () => { assert.equal((await srv.stop()).code, 0); });

// One request on a fresh connection (no agent: a new TCP connection each time).
function fresh(url, path, { method = 'GET', body = null, agent = false } = {}) {
  return new Promise((ok) => {
    const t0 = performance.now();
    const req = http.request(url + path, { method, agent, headers: body ? { 'Content-Type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => ok({ status: res.statusCode, headers: res.headers, text, ms: performance.now() - t0,
                                 port: req.socket?.localPort }));
      });
    req.setTimeout(60000, () => req.destroy(new Error('timed out after 60 s')));
    req.on('error', (e) => ok({ status: 0, error: e.code ?? e.message, ms: performance.now() - t0 }));
    if (body) req.write(JSON.stringify(body));
    req.end();
  });
}

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

test('a burst of 256 new connections to /health: every one answered, p99 under 1 s', async () => {
  const rs = await Promise.all(Array.from({ length: 256 }, () => fresh(srv.url, '/health')));
  const failed = rs.filter((r) => r.status !== 200);
  const ms = rs.map((r) => r.ms);
  console.log(`burst 256 /health: p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms, ` +
              `max ${Math.max(...ms).toFixed(1)} ms, failed ${failed.length}`);
  assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 3)));
  assert.ok(quantile(ms, 0.99) < 1000, `p99 ${quantile(ms, 0.99)} ms`);
});

test('128 concurrent streamed chats on new connections all complete', async () => {
  const body = { messages: [{ role: 'user', content: 'Count from 1 to 20.' }], temperature: 0,
                 max_tokens: 8, stream: true };
  const rs = await Promise.all(Array.from({ length: 128 }, () =>
    fresh(srv.url, '/v1/chat/completions', { method: 'POST', body })));
  const ok = rs.filter((r) => r.status === 200 && sseEvents(r.text).at(-1) === '[DONE]');
  const busy = rs.filter((r) => r.status === 503 && r.headers['retry-after']);
  const ms = rs.map((r) => r.ms);
  console.log(`128 streams: ${ok.length} complete, ${busy.length} busy (503), p99 ${quantile(ms, 0.99).toFixed(0)} ms`);
  assert.equal(ok.length + busy.length, 128, JSON.stringify(rs.filter((r) => r.status !== 200).slice(0, 3)));
  assert.equal(ok.length, 128, 'the default queue holds them all');
});

test('one keep-alive connection carries 50 requests', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ports = new Set();
  for (let i = 0; i < 50; i++) {
    const r = await fresh(srv.url, i % 2 ? '/health' : '/v1/models', { agent });
    assert.equal(r.status, 200);
    ports.add(r.port);
  }
  agent.destroy();
  assert.equal(ports.size, 1, `${ports.size} connections for 50 requests`);
});

test('a second server on a port in use refuses to start, naming the port', async () => {
  const port = new URL(srv.url).port;
  const p = spawn(bin, ['serve', '--port', port], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((r) => p.on('exit', (c) => r(c)));
  assert.notEqual(code, 0);
  assert.match(err, new RegExp(`127\\.0\\.0\\.1:${port}.*in use`));
  assert.equal((await fresh(srv.url, '/health')).status, 200, 'the first server still serves');
});

test('SIGTERM does not wait for idle kept-alive connections', async () => {
  const s = await startServer();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const rs = await Promise.all([0, 1, 2, 3].map(() => fresh(s.url, '/health', { agent })));
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
  const t0 = performance.now();
  const exit = await s.stop();  // four connections idle, kept alive for 30 s
  const ms = performance.now() - t0;
  agent.destroy();
  assert.equal(exit.code, 0);
  assert.ok(ms < 10000, `exit took ${ms.toFixed(0)} ms`);
});

test('after the traffic nothing is left running and every KV block is free', async () => {
  const m = await idleMetrics(srv.url);
  assert.equal(sample(m, 'wedlm:num_requests_running'), 0);
  assert.equal(sample(m, 'wedlm:num_requests_waiting'), 0);
  assert.equal(sample(m, 'wedlm:kv_cache_blocks_in_use'), 0);
});
