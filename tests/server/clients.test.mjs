// Clients that are slow, hostile or unusual, against the real server: slowloris heads and bodies
// (408, while /health stays fast and no thread is held per connection), pipelined requests,
// half-closed clients, oversized heads and bodies, the connection limit. Every one gets a status
// and an OpenAI error object; afterwards nothing is left running and no KV block is held.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startServer, metrics, sample, sleep } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(['--request-read-timeout', '2']); });
after(async () => { assert.equal((await srv.stop()).code, 0); });

// A raw connection: what it receives, and when it closed.
function raw(url) {
  const u = new URL(url);
  const sock = net.connect(Number(u.port), u.hostname);
  const c = { sock, text: '', closed: false };
  c.done = new Promise((ok) => {
    sock.on('data', (d) => { c.text += d; });
    sock.on('close', () => { c.closed = true; ok(c.text); });
    sock.on('error', () => {});
  });
  return c;
}

// The HTTP responses in `text`: status and parsed JSON body (Content-Length framing).
function responses(text) {
  const out = [];
  while (text.length) {
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = text.slice(0, end);
    const status = Number(head.split(' ')[1]);
    const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    const body = text.slice(end + 4, end + 4 + len);
    let json = null;
    try { json = JSON.parse(body); } catch { /* not JSON */ }
    out.push({ status, head, body, json });
    text = text.slice(end + 4 + len);
  }
  return out;
}

const threadsOf = (pid) => Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

test('300 slowloris connections: each answered 408, /health fast meanwhile, no thread each', async () => {
  const threads0 = threadsOf(srv.proc.pid);
  const slow = Array.from({ length: 300 }, (_, i) => {
    const c = raw(srv.url);
    c.sock.write(i % 2 ? 'GET /health HTTP/1.1\r\nHost: x\r\n'  // a head that never ends
                       : 'POST /v1/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    c.timer = setInterval(() => { if (!c.closed) c.sock.write(i % 2 ? 'X' : ' '); }, 300);
    return c;
  });
  await sleep(500);
  const threadsDuring = threadsOf(srv.proc.pid);
  const open = sample(await metrics(srv.url), 'wedlm:http_connections_open');
  assert.ok(open >= 300, `wedlm:http_connections_open ${open} with 300 slow clients`);
  const ms = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const r = await fetch(`${srv.url}/health`);
    ms.push(performance.now() - t0);
    assert.equal(r.status, 200);
  }
  const texts = await Promise.all(slow.map((c) => c.done));
  for (const c of slow) clearInterval(c.timer);
  console.log(`slowloris 300: /health p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms; ` +
              `server threads ${threads0} before, ${threadsDuring} during`);
  assert.ok(quantile(ms, 0.99) < 1000, `p99 ${quantile(ms, 0.99)} ms`);
  assert.ok(threadsDuring < threads0 + 20, `${threadsDuring - threads0} threads for 300 slow connections`);
  for (const t of texts) {
    const [r] = responses(t);
    assert.equal(r?.status, 408, t.slice(0, 200));
    assert.equal(r.json.error.code, 'request_timeout');
    assert.match(r.json.error.message, /too slowly/);
  }
});

test('pipelined requests are answered in order on one connection', async () => {
  const c = raw(srv.url);
  const body = JSON.stringify({ content: 'hello' });
  c.sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n' +
               `POST /tokenize HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
               'GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n' +
               'GET /v1/models HTTP/1.1\r\nConnection: close\r\n\r\n');
  const rs = responses(await c.done);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 404, 200]);
  assert.equal(rs[0].json.status, 'ok');
  assert.ok(rs[1].json.tokens.length > 0);
  assert.match(rs[2].json.error.message, /GET \/nowhere/);
  assert.equal(rs[3].json.object, 'list');
});

test('a client that half-closes after its request still gets the whole reply', async () => {
  const c = raw(srv.url);
  const body = JSON.stringify({ messages: [{ role: 'user', content: 'Count from 1 to 20.' }], temperature: 0,
                                max_tokens: 40, ignore_eos: true });
  c.sock.end(`POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  const text = await c.done;
  assert.match(text, /^HTTP\/1\.1 200 OK/);
  const json = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n/gm, '').replace(/\r\n/g, ''));
  assert.equal(json.usage.completion_tokens, 40);
});

test('an oversized Content-Length is refused at once, a huge head with 431, both as OpenAI errors', async () => {
  let c = raw(srv.url);
  const t0 = performance.now();
  c.sock.write('POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n');
  let [r] = responses(await c.done);
  assert.ok(performance.now() - t0 < 1000, 'not after a read timeout');
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'request_too_large');
  assert.match(r.json.error.message, /999999999 bytes/);
  c = raw(srv.url);
  c.sock.write(`GET /health HTTP/1.1\r\nX-Big: ${'a'.repeat(40000)}\r\n\r\n`);
  [r] = responses(await c.done);
  assert.equal(r.status, 431);
  assert.equal(r.json.error.code, 'headers_too_large');
  c = raw(srv.url);
  c.sock.write('GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc');
  [r] = responses(await c.done);
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /both Transfer-Encoding and Content-Length/);
});

test('connections past --max-connections get 503 with Retry-After; the server recovers', async () => {
  const s = await startServer(['--max-connections', '40']);
  try {
    const held = Array.from({ length: 40 }, () => raw(s.url));
    await sleep(300);
    const extra = raw(s.url);
    const [r] = responses(await extra.done);
    assert.equal(r.status, 503);
    assert.match(r.head, /Retry-After: 1/i);
    assert.match(r.json.error.message, /40 connections/);
    for (const c of held) c.sock.destroy();
    await sleep(300);
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('after the hostile clients nothing is left running and every KV block is free', async () => {
  const m = await metrics(srv.url);
  assert.equal(sample(m, 'wedlm:num_requests_running'), 0);
  assert.equal(sample(m, 'wedlm:num_requests_waiting'), 0);
  assert.equal(sample(m, 'wedlm:kv_cache_blocks_in_use'), 0);
  assert.ok(srv.logs.some((l) => l.status === 408 && /too slowly/.test(l.error)), 'the 408s are logged with why');
});
