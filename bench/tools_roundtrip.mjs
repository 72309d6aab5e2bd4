// The v2 held-out tool conversations through an OpenAI-compatible server and the official
// `openai` SDK (the one tests/server installs):
//   node bench/tools_roundtrip.mjs --base-url http://127.0.0.1:8080/v1 [--tool-choice auto]
//                                  [--mode wedlm|ar] [--json OUT]
// For each `tools` row of tests/data/heldout_v2_wedlm_tiny.jsonl, the conversation up to its last
// assistant turn is sent with the row's tools, as an agent platform sends it: calls carry ids,
// tool results their tool_call_id. Rows that end in calls must come back as tool_calls equal to
// the expected ones (names and parsed arguments, in order; finish_reason "tool_calls"); round
// trips (the call, the tools' results) and plain rows must come back as the expected text. Prints
// the rates per kind and overall; exits 0 whatever they are (the rate is the result).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const OpenAI = createRequire(path.join(root, 'tests', 'server', 'package.json'))('openai');

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

// An example's messages as OpenAI messages: ids on calls, tool_call_id on results.
function openaiMessages(messages) {
  const out = [];
  let pending = [];
  messages.forEach((m, turn) => {
    if (m.tool_calls) {
      const calls = m.tool_calls.map((c, k) => ({
        id: `call_${turn}_${k}`, type: 'function',
        function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) },
      }));
      pending = calls.map((c) => c.id);
      out.push({ role: 'assistant', content: m.content || null, tool_calls: calls });
    } else if (m.role === 'tool') {
      out.push({ role: 'tool', content: m.content, tool_call_id: pending.shift() });
    } else {
      out.push({ role: m.role, content: m.content });
    }
  });
  return out;
}

function kindOf(row) {
  if (row.check === 'tool_calls') return row.answer.length > 1 ? 'parallel calls' : 'call';
  if (row.messages.some((m) => m.role === 'tool')) return 'round trip';
  return 'plain';
}

function sameCalls(got, want) {
  if (!got || got.length !== want.length) return false;
  return got.every((c, k) => {
    let args;
    try { args = JSON.parse(c.function.arguments); } catch { return false; }
    return c.function.name === want[k].name &&
      JSON.stringify(args) === JSON.stringify(want[k].arguments);
  });
}

async function main() {
  const client = new OpenAI({ baseURL: flag('base-url', 'http://127.0.0.1:8080/v1'),
                              apiKey: flag('api-key', 'none'), maxRetries: 0, timeout: 120000 });
  const rows = readFileSync(path.join(root, 'tests', 'data', 'heldout_v2_wedlm_tiny.jsonl'), 'utf8')
    .trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.family === 'tools');
  const toolChoice = flag('tool-choice', 'auto');
  const model = flag('model', '') || (await client.models.list()).data[0].id;
  const tally = {};
  const results = [];
  for (const row of rows) {
    const kind = kindOf(row);
    const body = { model, messages: openaiMessages(row.messages.slice(0, -1)),
                   tools: row.tools, temperature: 0, max_tokens: 256, decode_mode: flag('mode', 'wedlm') };
    if (kind.endsWith('call') || kind.endsWith('calls')) body.tool_choice = toolChoice;
    else body.tool_choice = 'auto';
    const reply = await client.chat.completions.create(body);
    const choice = reply.choices[0];
    const ok = row.check === 'tool_calls'
      ? choice.finish_reason === 'tool_calls' && sameCalls(choice.message.tool_calls, row.answer)
      : !choice.message.tool_calls?.length && (choice.message.content ?? '').trim() === row.answer;
    const valid = row.check !== 'tool_calls' ||
      (choice.message.tool_calls ?? []).every((c) => { try { JSON.parse(c.function.arguments); return true; } catch { return false; } }) &&
      (choice.message.tool_calls ?? []).length > 0;
    const t = (tally[kind] ??= { n: 0, correct: 0, valid: 0 });
    t.n += 1; t.correct += ok; t.valid += valid;
    results.push({ kind, ok, valid, finish_reason: choice.finish_reason, message: choice.message });
  }
  const all = Object.values(tally).reduce((a, t) => ({ n: a.n + t.n, correct: a.correct + t.correct,
                                                       valid: a.valid + t.valid }), { n: 0, correct: 0, valid: 0 });
  for (const [kind, t] of Object.entries(tally))
    console.log(`${kind}: ${t.correct}/${t.n} correct, ${t.valid}/${t.n} valid`);
  console.log(`all tools rows: ${all.correct}/${all.n} correct (${(100 * all.correct / all.n).toFixed(1)}%), ` +
              `${all.valid}/${all.n} valid, tool_choice ${toolChoice}`);
  const out = flag('json', '');
  if (out) writeFileSync(out, JSON.stringify({ tally, all, results }, null, 1));
}

main().catch((e) => { console.error(e); process.exit(1); });
