"""Write a held-out evaluation set with its prompt ids.

    python3 training/make_heldout.py --tokenizer models/wedlm-tiny/tokenizer.json \
        --out tests/data/heldout_wedlm_tiny.jsonl
    python3 training/make_heldout.py --stream 2 --tokenizer models/wedlm-tiny/tokenizer.json \
        --out tests/data/heldout_v2_wedlm_tiny.jsonl

Stream 1 (the first model's): seed 2, 30 examples per family, prompts in ChatML. Stream 2 (v2's
new families, datagen_v2.eval_set_v2): seed 3, 30 `tools` and 30 `schema` examples, prompts in
the v2 chat format (chatml_qwen3) with their tools, ids by the v2 tokenizer (the given one with
the tool tokens added). One JSON object per line: family, messages (the last is the expected
assistant reply), answer, check ("exact" | "final_line" | "tool_calls", see datagen.py), tools
(stream 2, where offered) and prompt_ids (the prompt with the generation prompt), so that
engines can be evaluated without a tokenizer of their own.
"""

import argparse
import json

import bpe
import chatml
import chatml_qwen3
import dataset
import datagen_v2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-family", type=int, default=30)
    ap.add_argument("--stream", type=int, default=1, choices=(1, 2))
    args = ap.parse_args()
    tok = bpe.ByteLevelBPE.load(args.tokenizer)
    if args.stream == 2:
        tok = chatml_qwen3.tokenizer_v2(tok)
        examples = datagen_v2.eval_set_v2(args.per_family)
        ids = lambda e: chatml_qwen3.prompt_ids(tok, e["messages"][:-1], e.get("tools"))  # noqa
    else:
        examples = dataset.eval_set(args.per_family)
        ids = lambda e: chatml.prompt_ids(tok, e["messages"][:-1])  # noqa: E731
    with open(args.out, "w", encoding="utf-8") as f:
        for e in examples:
            f.write(json.dumps(dict(e, prompt_ids=ids(e)), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
