// Starts `wedlm serve` on a free loopback port and talks to it: the helpers of the server tests.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = process.env.WEDLM_BIN ?? `${root}/build/src/tools/wedlm`;

// What the tests need; a reason to skip when something is missing.
export async function missing() {
  if (!existsSync(bin)) return `no wedlm binary at ${bin} (build first)`;
  try { await import('openai'); } catch { return 'the openai SDK is not installed (cd tests/server && npm ci)'; }
  return null;
}

// Spawns the server; resolves once it logs {"event": "ready"}. `logs` collects its JSON lines.
export function startServer(args = [], env = {}) {
  const proc = spawn(bin, ['serve', '--port', '0', ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const logs = [];
  let buf = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('server did not become ready in 60 s')), 60000);
    proc.stderr.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let j = null;
        try { j = JSON.parse(line); } catch { j = { raw: line }; }
        logs.push(j);
        if (j.event === 'ready') {
          clearTimeout(timer);
          const exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
          ok({ proc, logs, port: j.port, url: `http://127.0.0.1:${j.port}`, exited,
               stop: async () => { proc.kill('SIGTERM'); return exited; } });
        }
      }
    });
    proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`server exited with ${code}: ${buf}`)); });
  });
}

export async function post(url, path, body, headers = {}) {
  const r = await fetch(url + path, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* SSE or text */ }
  return { status: r.status, headers: r.headers, text, json };
}

export async function metrics(url) {
  return (await fetch(url + '/metrics')).text();
}

// /metrics once nothing runs and no KV block is held (cancelled requests free theirs at the next
// step), or after 2 s: the caller asserts on what it returns.
export async function idleMetrics(url) {
  let m = '';
  for (let i = 0; i < 100; i++, await sleep(20)) {
    m = await metrics(url);
    if (sample(m, 'wedlm:num_requests_running') === 0 && sample(m, 'wedlm:kv_cache_blocks_in_use') === 0) break;
  }
  return m;
}

// The value of an unlabelled (or exactly labelled) sample in Prometheus text.
export function sample(text, name) {
  for (const line of text.split('\n'))
    if (line.startsWith(name + ' ')) return Number(line.slice(name.length + 1));
  return undefined;
}

// Parses an SSE body strictly: every event is exactly "data: <payload>\n\n", apart from the
// server's ": keep-alive" comments after a second of silence (a loaded machine), which are dropped.
export function sseEvents(body) {
  const events = body.split('\n\n');
  if (events.pop() !== '') throw new Error('the stream does not end with a blank line');
  return events.filter((e) => e !== ': keep-alive').map((e) => {
    if (!e.startsWith('data: ') || e.includes('\n')) throw new Error(`bad SSE event: ${JSON.stringify(e)}`);
    return e.slice(6);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
