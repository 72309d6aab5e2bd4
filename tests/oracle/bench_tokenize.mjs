// Times @huggingface/tokenizers on a JSONL file of {"text": ...} lines (the baseline for
// `wedlm tokenize --jsonl` in docs/PERFORMANCE.md): node tests/oracle/bench_tokenize.mjs DIR FILE
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const [dir, file] = process.argv.slice(2);
let t0 = performance.now();
const tok = new Tokenizer(JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"))),
                          JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"))));
const load = performance.now() - t0;
const lines = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l).text);
t0 = performance.now();
let n = 0;
for (const s of lines) n += tok.encode(s, { add_special_tokens: false }).ids.length;
const enc = performance.now() - t0;
console.log(`load ${load.toFixed(0)} ms, encode ${enc.toFixed(0)} ms, ${lines.join("").length} chars, ${n} ids`);
