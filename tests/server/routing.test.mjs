// Which model a request is for: the served names (--served-model-name, default the directory's
// name), a 404 model_not_found naming any other (vLLM's and OpenAI's answer) unless --any-model,
// and GET /v1/models/{id} (the SDK's models.retrieve).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, post } from './harness.mjs';

const chat = (model) => ({ model, messages: [{ role: 'user', content: 'Count from 1 to 3.' }],
                           temperature: 0, max_tokens: 8 });

test('the directory name is served; another name is a 404 naming it; retrieve works', async () => {
  const s = await startServer();
  try {
    const ok = await post(s.url, '/v1/chat/completions', chat('wedlm-tiny'));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.model, 'wedlm-tiny');
    assert.equal((await post(s.url, '/v1/chat/completions', { messages: chat('').messages })).status, 200,
                 'a request without "model" is for the served model');
    for (const path of ['/v1/chat/completions', '/v1/completions']) {
      const body = path.endsWith('chat/completions') ? chat('gpt-4o') : { model: 'gpt-4o', prompt: 'hi' };
      const r = await post(s.url, path, body);
      assert.equal(r.status, 404, r.text);
      assert.equal(r.json.error.code, 'model_not_found');
      assert.equal(r.json.error.param, 'model');
      assert.match(r.json.error.message, /gpt-4o/);
    }
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const m = await client.models.retrieve('wedlm-tiny');
    assert.equal(m.id, 'wedlm-tiny');
    assert.equal(m.object, 'model');
    await assert.rejects(client.models.retrieve('gpt-4o'),
                         (e) => e.status === 404 && e.code === 'model_not_found');
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('--served-model-name gives the names; --any-model answers any', async () => {
  const named = await startServer(['--served-model-name', 'tiny', 'tiny-alias']);
  try {
    const list = await (await fetch(`${named.url}/v1/models`)).json();
    assert.deepEqual(list.data.map((d) => d.id), ['tiny']);
    const r = await post(named.url, '/v1/chat/completions', chat('tiny-alias'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'tiny-alias', 'replies name the model the request named');
    assert.equal((await post(named.url, '/v1/chat/completions', chat('wedlm-tiny'))).status, 404);
  } finally {
    assert.equal((await named.stop()).code, 0);
  }
  const any = await startServer(['--any-model']);
  try {
    const r = await post(any.url, '/v1/chat/completions', chat('whatever-the-platform-sends'));
    assert.equal(r.status, 200, r.text);
  } finally {
    assert.equal((await any.stop()).code, 0);
  }
});
