// Renders chat templates with @huggingface/jinja (what transformers.js uses) to make golden data
// for the C++ renderer: node tests/oracle/render_chat_templates.mjs OUT.json
// Templates: the real Qwen3 one (../shared/fixtures/tiny-qwen3) and the bundled model's ChatML.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const templates = {
  qwen3: JSON.parse(fs.readFileSync(path.resolve(root, "..", "shared", "fixtures", "tiny-qwen3",
                                                 "tokenizer_config.json"))).chat_template,
  chatml: JSON.parse(fs.readFileSync(path.resolve(root, "models", "wedlm-tiny",
                                                  "tokenizer_config.json"))).chat_template,
};
const u = (content) => ({ role: "user", content });
const a = (content) => ({ role: "assistant", content });
const s = (content) => ({ role: "system", content });
const conversations = [
  [u("Count from 1 to 5.")],
  [s("You are a helpful assistant."), u("Hi")],
  [u("Hi"), a("Hello!"), u("Count to 3.")],
  [s("Be brief."), u("Q1"), a("<think>\nlet me think\n</think>\n\nA1"), u("Q2")],
  [u("Q1"), a("<think>\nold reasoning\n</think>\n\nA1"), u("Q2"), a("<think>\nnew\n</think>\n\nA2")],
  [u("Q1"), a("A1"), s("Mid-conversation system note."), u("Q2")],
  [u("  spaces and\nnewlines\n"), a("\n\nleading newlines")],
  [u("Tell me about <think> tags </think> in text.")],
];
const out = [];
for (const [name, src] of Object.entries(templates)) {
  const t = new Template(src);
  for (const messages of conversations)
    for (const add_generation_prompt of [true, false])
      for (const enable_thinking of [undefined, false]) {
        const vars = { messages, add_generation_prompt, bos_token: "", eos_token: "<|im_end|>" };
        if (enable_thinking !== undefined) vars.enable_thinking = enable_thinking;
        out.push({ template: name, messages, add_generation_prompt,
                   enable_thinking: enable_thinking ?? null, text: t.render(vars) });
      }
}
fs.writeFileSync(process.argv[2], JSON.stringify({ source: "@huggingface/jinja 0.5.1", cases: out }, null, 1));
console.log(`${out.length} renderings written to ${process.argv[2]}`);
