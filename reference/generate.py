"""Generate with the float64 reference decoders (greedy). Slow by design: it is the yardstick the
C++ engine is checked against, not the engine.

    /usr/bin/python3 reference/generate.py -p "Count from 1 to 30." [-m models/wedlm-tiny]
        [--mode wedlm|ar] [--window 16] [--threshold 0.4|none] [--penalty 0.02] [-n 256]
        [--system TEXT] [--raw] [--json]

The prompt is wrapped in the model's ChatML template (user text encoded with special tokens off)
unless --raw is given, in which case it is encoded as-is with special tokens parsed.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))

import bpe  # noqa: E402
import chatml  # noqa: E402
from decode_np import ar_generate, wedlm_generate  # noqa: E402
from model_np import RefModel  # noqa: E402


def threshold_arg(s):
    return None if s.lower() == "none" else float(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", default=os.path.join(HERE, "..", "models", "wedlm-tiny"))
    ap.add_argument("-p", "--prompt", required=True)
    ap.add_argument("--mode", choices=["wedlm", "ar"], default="wedlm")
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--threshold", type=threshold_arg, default=0.4)
    ap.add_argument("--penalty", type=float, default=0.02)
    ap.add_argument("-n", "--max-tokens", type=int, default=256)
    ap.add_argument("--system")
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.window < 1 or args.max_tokens < 1:
        ap.error("--window and --max-tokens must be at least 1")
    tok = bpe.ByteLevelBPE.load(os.path.join(args.model, "tokenizer.json"))
    model = RefModel(args.model)
    msgs = ([{"role": "system", "content": args.system}] if args.system else []) + \
        [{"role": "user", "content": args.prompt}]
    prompt = tok.encode(args.prompt) if args.raw else chatml.prompt_ids(tok, msgs)
    stop = {tok.specials[chatml.IM_END], tok.specials[chatml.ENDOFTEXT]}
    t0 = time.time()
    if args.mode == "wedlm":
        g = wedlm_generate(model, prompt, args.max_tokens, stop, args.window, args.threshold,
                           args.penalty)
    else:
        g = ar_generate(model, prompt, args.max_tokens, stop)
    text = tok.decode(g["output"], skip_special=True)
    stats = {"forwards": g["forwards"], "tokens": len(g["output"]),
             "tokens_per_forward": round(len(g["output"]) / g["forwards"], 3),
             "seconds": round(time.time() - t0, 3)}
    if args.json:
        print(json.dumps({"prompt_ids": prompt, "output_ids": g["output"], "text": text,
                          **stats}))
    else:
        print(text)
        print(f"[{args.mode}: {stats['tokens']} tokens in {stats['forwards']} forwards, "
              f"{stats['tokens_per_forward']} tokens/forward, {stats['seconds']} s]",
              file=sys.stderr)


if __name__ == "__main__":
    main()
