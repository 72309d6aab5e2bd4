"""Write the held-out evaluation set (seed 2, 30 examples per family) with its prompt ids.

    python3 training/make_heldout.py --tokenizer models/wedlm-tiny/tokenizer.json \
        --out tests/data/heldout_wedlm_tiny.jsonl

One JSON object per line: family, messages (the last is the expected assistant reply), answer,
check ("exact" | "final_line", see datagen.py) and prompt_ids (the ChatML prompt with the
generation prompt, tokenized by the model's tokenizer), so that engines can be evaluated without a
tokenizer of their own.
"""

import argparse
import json

import bpe
import chatml
import dataset


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-family", type=int, default=30)
    args = ap.parse_args()
    tok = bpe.ByteLevelBPE.load(args.tokenizer)
    with open(args.out, "w", encoding="utf-8") as f:
        for e in dataset.eval_set(args.per_family):
            e = dict(e, prompt_ids=chatml.prompt_ids(tok, e["messages"][:-1]))
            f.write(json.dumps(e, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
