// A model directory the server cannot serve well is refused at start, by name, with an error
// log line (not a fake shutdown), and exit 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { root, bin } from './harness.mjs';

function serve(args) {
  return new Promise((ok) => {
    const p = spawn(bin, ['serve', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => ok({ code, lines: err.trim().split('\n').map((l) => JSON.parse(l)) }));
  });
}

test('a generation_config.json no request could use stops the start, naming the file', async () => {
  const dir = mkdtempSync(`${tmpdir()}/wedlm-model-`);
  try {
    cpSync(`${root}/models/wedlm-tiny`, dir, { recursive: true });
    writeFileSync(`${dir}/generation_config.json`, JSON.stringify({ top_p: 7 }));
    const { code, lines } = await serve(['-m', dir]);
    assert.equal(code, 1);
    const error = lines.find((l) => l.event === 'error');
    assert.ok(error, JSON.stringify(lines));
    assert.equal(error.level, 'error');
    assert.match(error.message, /generation_config\.json: top_p 7/);
    assert.ok(!lines.some((l) => l.event === 'shutdown'), 'no signal was sent');
    for (const l of lines) assert.match(l.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a KV pool larger than the memory is refused with the sizes, not an abort', async () => {
  const { code, lines } = await serve(['--kv-size', '100TB']);
  assert.equal(code, 1);
  assert.match(lines.find((l) => l.event === 'error').message, /KV pool .* more than the .* GiB of memory/);
});
