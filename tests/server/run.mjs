// CTest entry point of the server tests: skips (exit 77, with the reason) when the binary or the
// openai SDK is missing, else runs every *.test.mjs with node's test runner, one file at a time.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missing } from './harness.mjs';

const why = await missing();
if (why) {
  console.log(`SKIPPED: ${why}`);
  process.exit(77);
}
const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
// soak.test.mjs is a CTest entry of its own (server_soak): named, not run by default
const files = (only.length ? only : readdirSync(here).filter((f) => f.endsWith('.test.mjs') && f !== 'soak.test.mjs'))
  .map((f) => `${here}/${f.replace(/^.*\//, '')}`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
