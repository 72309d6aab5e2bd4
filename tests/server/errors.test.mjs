// Every bad input gets an OpenAI error object with the right status and type, names what was
// wrong, and the server keeps serving; authentication; a full queue answers 503 with Retry-After.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, post } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(['-np', '4']); });
after(async () => { assert.equal((await srv.stop()).code, 0); });

const user = (content) => [{ role: 'user', content }];
const chat = (body, headers) => post(srv.url, '/v1/chat/completions', body, headers);

function isError(r, status, type, param) {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.json?.error?.message, 'string', r.text);
  assert.ok(r.json.error.message.length > 0);
  assert.equal(r.json.error.type, type, r.text);
  if (param !== undefined) assert.equal(r.json.error.param, param, r.text);
  assert.ok('code' in r.json.error && 'param' in r.json.error);
}

test('malformed bodies: JSON, content type, UTF-8, not an object, too large', async () => {
  isError(await chat('{"messages": [', {}), 400, 'invalid_request_error');
  isError(await chat(JSON.stringify({ messages: user('hi') }), { 'Content-Type': 'text/plain' }),
          415, 'invalid_request_error');
  const bad = Buffer.concat([Buffer.from('{"messages": [{"role": "user", "content": "'),
                             Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
  const r = await chat(new Uint8Array(bad));
  isError(r, 400, 'invalid_request_error');
  assert.match(r.json.error.message, /UTF-8/);
  isError(await chat('[1, 2]'), 400, 'invalid_request_error');
  const deep = `{"messages": [{"role": "user", "content": "hi"}], "temperature": ${'['.repeat(500000)}${']'.repeat(500000)}}`;
  isError(await chat(deep), 400, 'invalid_request_error');
  isError(await post(srv.url, '/tokenize', { content: 'x', parse_special: 'yes' }), 400,
          'invalid_request_error', 'parse_special');
  const huge = JSON.stringify({ messages: user('x'.repeat(9 << 20)) });
  isError(await chat(huge), 413, 'invalid_request_error');
});

test('bad fields are 400s naming the field', async () => {
  const cases = [
    [{ messages: [] }, 'messages'],
    [{}, 'messages'],
    [{ messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role'],
    [{ messages: [{ role: 'user' }] }, 'messages[0].content'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages[0].content'],
    [{ messages: user('hi'), temperature: 'hot' }, 'temperature'],
    [{ messages: user('hi'), temperature: 7 }, 'temperature'],
    [{ messages: user('hi'), top_p: 0 }, 'top_p'],
    [{ messages: user('hi'), top_k: 1.5 }, 'top_k'],
    [{ messages: user('hi'), max_tokens: 0 }, 'max_tokens'],
    [{ messages: user('hi'), max_completion_tokens: -3 }, 'max_completion_tokens'],
    [{ messages: user('hi'), n: 17 }, 'n'],
    [{ messages: user('hi'), n: 0 }, 'n'],
    [{ messages: user('hi'), stop: 42 }, 'stop'],
    [{ messages: user('hi'), stream: 'yes' }, 'stream'],
    [{ messages: user('hi'), seed: 'x' }, 'seed'],
    [{ messages: user('hi'), top_logprobs: 2 }, 'top_logprobs'],
    [{ messages: user('hi'), logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
    [{ messages: user('hi'), decode_mode: 'fast' }, 'decode_mode'],
    [{ messages: user('hi'), wedlm_window: 0 }, 'wedlm_window'],
    [{ messages: user('hi'), wedlm_threshold: 'low' }, 'wedlm_threshold'],
    [{ messages: user('hi'), wedlm_penalty: -1 }, 'wedlm_penalty'],
    [{ messages: user('hi'), presence_penalty: 2.5 }, 'presence_penalty'],
    [{ messages: user('hi'), logit_bias: { 99999999: 5 } }, 'logit_bias'],
    [{ messages: user('hi'), logit_bias: { 5: 101 } }, 'logit_bias'],
    [{ messages: user('hi'), response_format: { type: 'yaml' } }, 'response_format.type'],
    [{ messages: user('hi'), stream_options: { include_usage: 1 } }, 'stream_options.include_usage'],
  ];
  for (const [body, param] of cases) isError(await chat(body), 400, 'invalid_request_error', param);
  const completion = (b) => post(srv.url, '/v1/completions', b);
  isError(await completion({ prompt: 5 }), 400, 'invalid_request_error', 'prompt');
  isError(await completion({ prompt: '' }), 400, 'invalid_request_error', 'prompt');
  isError(await completion({ prompt: ['a', 'b'] }), 400, 'invalid_request_error', 'prompt');
  isError(await completion({ prompt: [1, 99999] }), 400, 'invalid_request_error', 'prompt');
  isError(await completion({ prompt: 'hi', echo: true }), 400, 'invalid_request_error', 'echo');
  isError(await completion({ prompt: 'hi', logprobs: 30 }), 400, 'invalid_request_error', 'logprobs');
});

test('a prompt longer than the context: 400 with the numbers', async () => {
  const long = await chat({ messages: user('count '.repeat(1200)) });
  isError(long, 400, 'invalid_request_error', 'messages');
  assert.match(long.json.error.message, /1024/);
  assert.equal(long.json.error.code, 'context_length_exceeded');
  const tooMuch = await chat({ messages: user('hi'), max_tokens: 1020 });
  isError(tooMuch, 400, 'invalid_request_error', 'max_tokens');
  assert.match(tooMuch.json.error.message, /maximum context length is 1024 tokens\. However, you requested \d+ tokens/);
});

test('unknown fields are ignored, unknown routes are 404s, and the server still serves', async () => {
  const r = await chat({ messages: user('Count from 1 to 3.'), temperature: 0, frobnicate: true,
                         metadata: { a: 1 }, user: 'u1', tool_choice: 'auto' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, '1, 2, 3');
  isError(await post(srv.url, '/v1/embeddings', { input: 'x' }), 404, 'not_found_error');
  const get = await fetch(`${srv.url}/v1/chat/completions`);
  isError({ status: get.status, json: await get.json(), text: '' }, 405, 'invalid_request_error');
  isError(await post(srv.url, '/detokenize', { tokens: [-1] }), 400, 'invalid_request_error', 'tokens');
  isError(await post(srv.url, '/apply-template', { messages: 'hi' }), 400, 'invalid_request_error', 'messages');
});

test('the SDK sees errors as APIError with status and type', async () => {
  const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  await assert.rejects(client.chat.completions.create({ model: 'wedlm-tiny', messages: user('hi'), n: 17 }),
                       (e) => e.status === 400 && e.type === 'invalid_request_error' && e.param === 'n');
});

test('API key: Bearer required on /v1, constant-time checked; /health and /metrics open', async () => {
  const keyed = await startServer([], { WEDLM_API_KEY: 'sekret-key' });
  try {
    const body = { messages: user('Count from 1 to 3.'), temperature: 0 };
    for (const h of [{}, { Authorization: 'Bearer nope' }, { Authorization: 'sekret-key' },
                     { Authorization: 'Bearer sekret-ke' }, { Authorization: 'Bearer sekret-keyy' }]) {
      const r = await post(keyed.url, '/v1/chat/completions', body, h);
      isError(r, 401, 'authentication_error');
    }
    const ok = await post(keyed.url, '/v1/chat/completions', body, { Authorization: 'Bearer sekret-key' });
    assert.equal(ok.status, 200);
    assert.equal((await fetch(`${keyed.url}/health`)).status, 200);
    assert.equal((await fetch(`${keyed.url}/metrics`)).status, 200);
    assert.equal((await fetch(`${keyed.url}/v1/models`)).status, 401);
    const sdk = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'sekret-key' });
    assert.equal((await sdk.models.list()).data[0].id, 'wedlm-tiny');
    // without the key a body is never read: 401 at once, and the connection closed
    const big = JSON.stringify({ messages: user('x'.repeat(6 << 20)) });
    const r = await post(keyed.url, '/v1/chat/completions', big);
    isError(r, 401, 'authentication_error');
    assert.equal(r.headers.get('connection'), 'close');
  } finally {
    assert.equal((await keyed.stop()).code, 0);
  }
});

test('a full queue answers 503 with Retry-After; the server recovers', async () => {
  const small = await startServer(['-np', '1', '--max-waiting', '1']);
  try {
    const body = { messages: user('Count from 1 to 100.'), temperature: 0, decode_mode: 'ar',
                   ignore_eos: true, max_tokens: 300 };
    const rs = await Promise.all(Array.from({ length: 8 }, () => post(small.url, '/v1/chat/completions', body)));
    const refused = rs.filter((r) => r.status === 503);
    assert.ok(refused.length >= 1, `statuses ${rs.map((r) => r.status)}`);
    assert.ok(rs.some((r) => r.status === 200));
    for (const r of refused) {
      isError(r, 503, 'unavailable_error');
      assert.equal(r.headers.get('retry-after'), '1');
    }
    for (const r of rs) assert.ok(r.status === 200 || r.status === 503);
    const after = await post(small.url, '/v1/chat/completions', { messages: user('Count from 1 to 3.'), temperature: 0 });
    assert.equal(after.status, 200);
  } finally {
    assert.equal((await small.stop()).code, 0);
  }
});

test('Content-Type is matched as a media type: case-insensitive, parameters apart, no prefixes', async () => {
  const body = JSON.stringify({ messages: [{ role: 'user', content: 'Count from 1 to 3.' }], max_tokens: 4 });
  for (const [type, status] of [['APPLICATION/JSON', 200], ['application/json; charset=utf-8', 200],
                                ['application/jsonfoo', 415], ['text/json', 415]]) {
    const r = await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': type }, body });
    assert.equal(r.status, status, type);
    await r.text();
  }
});

test('compressed bodies are refused before they are read or inflated', async () => {
  const { gzipSync } = await import('node:zlib');
  const bomb = gzipSync(Buffer.alloc(64 << 20));  // 64 MiB of zeros in ~64 KB
  const r = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST', body: bomb,
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } });
  const j = await r.json();
  assert.equal(r.status, 415);
  assert.match(j.error.message, /Content-Encoding 'gzip'/);
  assert.equal(r.headers.get('connection'), 'close');
  assert.equal((await fetch(`${srv.url}/health`)).status, 200, 'the server still serves');
});
