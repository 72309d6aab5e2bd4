"""Held-out evaluation of a model with the float64 reference decoders (greedy, engine defaults).

    /usr/bin/python3 reference/eval_model.py [--model models/wedlm-tiny]
        [--heldout tests/data/heldout_wedlm_tiny.jsonl] [--limit-per-family N] [--json OUT]

Prints one row per task family: examples, exact-answer accuracy in WeDLM and AR mode, WeDLM tokens
per forward (committed tokens / decode forwards; AR is 1 by construction).
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))

import datagen  # noqa: E402
from decode_np import ar_generate, wedlm_generate  # noqa: E402
from model_np import RefModel  # noqa: E402
import bpe  # noqa: E402

ROOT = os.path.join(HERE, "..")


def load_heldout(path, limit_per_family=None):
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    if limit_per_family is None:
        return rows
    seen, out = {}, []
    for r in rows:
        seen[r["family"]] = seen.get(r["family"], 0) + 1
        if seen[r["family"]] <= limit_per_family:
            out.append(r)
    return out


def evaluate(model, tok, rows, window=16, threshold=0.4, penalty=0.02, max_tokens=320):
    stop = {tok.specials["<|im_end|>"], tok.specials["<|endoftext|>"]}
    results = []
    for r in rows:
        res = {"family": r["family"]}
        for mode in ("wedlm", "ar"):
            t0 = time.time()
            if mode == "wedlm":
                g = wedlm_generate(model, r["prompt_ids"], max_tokens, stop, window, threshold,
                                   penalty)
            else:
                g = ar_generate(model, r["prompt_ids"], max_tokens, stop)
            text = tok.decode(g["output"], skip_special=True)
            res[mode] = {"ok": datagen.reply_is_correct(r, text), "tokens": len(g["output"]),
                         "forwards": g["forwards"], "s": round(time.time() - t0, 3),
                         "text": text}
        results.append(res)
    return results


def table(results):
    fams = sorted({r["family"] for r in results}) + ["ALL"]
    out = {}
    for f in fams:
        rs = [r for r in results if f in ("ALL", r["family"])]
        out[f] = {"n": len(rs),
                  "wedlm_acc": sum(r["wedlm"]["ok"] for r in rs) / len(rs),
                  "ar_acc": sum(r["ar"]["ok"] for r in rs) / len(rs),
                  "tokens_per_forward": sum(r["wedlm"]["tokens"] for r in rs)
                  / sum(r["wedlm"]["forwards"] for r in rs)}
    return out


def print_table(t):
    print("| family | n | WeDLM accuracy | AR accuracy | WeDLM tokens/forward |")
    print("|---|---:|---:|---:|---:|")
    for f, v in t.items():
        print(f"| {f} | {v['n']} | {v['wedlm_acc']:.3f} | {v['ar_acc']:.3f} | "
              f"{v['tokens_per_forward']:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "wedlm-tiny"))
    ap.add_argument("--heldout", default=os.path.join(ROOT, "tests", "data",
                                                      "heldout_wedlm_tiny.jsonl"))
    ap.add_argument("--limit-per-family", type=int)
    ap.add_argument("--json")
    args = ap.parse_args()
    model = RefModel(args.model)
    tok = bpe.ByteLevelBPE.load(os.path.join(args.model, "tokenizer.json"))
    t0 = time.time()
    results = evaluate(model, tok, load_heldout(args.heldout, args.limit_per_family))
    t = table(results)
    print_table(t)
    print(f"({len(results)} examples, {time.time() - t0:.0f}s)")
    if args.json:
        json.dump({"table": t, "results": results}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
