#!/usr/bin/env python3
"""WeDLM against AR decoding on the same engine and weights, side by side (a benchmark, not a test).

    python3 bench/wedlm_vs_ar.py [--family count] [-r 3] [--wedlm build/src/tools/wedlm]

Runs `wedlm generate --json` (greedy, engine defaults) on every held-out prompt of the family,
alternating modes so that machine noise hits both alike, and reports for each mode the total engine
time (prefill + decode, as the engine reports it), tokens and forwards, and the WeDLM/AR time ratio.
Repetition k of a mode reports the minimum over its repetitions per prompt.
"""

import argparse
import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def run(binary, ids, mode, threads):
    cmd = [binary, "generate", "--prompt-ids", ",".join(map(str, ids)), "--json",
           "--temperature", "0", "--mode", mode, "-n", "320", "-t", str(threads)]
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return r["timings"]["prefill_ms"] + r["timings"]["decode_ms"], len(r["output_ids"]), \
        r["forwards"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", default="count")
    ap.add_argument("-r", "--repetitions", type=int, default=3)
    ap.add_argument("-t", "--threads", type=int, default=0)
    ap.add_argument("--wedlm", default=os.path.join(ROOT, "build", "src", "tools", "wedlm"))
    ap.add_argument("--heldout", default=os.path.join(ROOT, "tests", "data",
                                                      "heldout_wedlm_tiny.jsonl"))
    args = ap.parse_args()
    rows = [json.loads(x) for x in open(args.heldout)]
    rows = [r for r in rows if args.family in ("all", r["family"])]
    total = {"wedlm": [0.0, 0, 0], "ar": [0.0, 0, 0]}
    for r in rows:
        for mode in ("wedlm", "ar"):
            runs = [run(args.wedlm, r["prompt_ids"], mode, args.threads)
                    for _ in range(args.repetitions)]
            ms = min(x[0] for x in runs)
            total[mode][0] += ms
            total[mode][1] += runs[0][1]
            total[mode][2] += runs[0][2]
    print(f"{len(rows)} '{args.family}' prompts, best of {args.repetitions} per prompt and mode")
    print("| mode | engine time (ms) | tokens | forwards | tokens/forward | tokens/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, (ms, tok, fw) in total.items():
        print(f"| {mode} | {ms:.1f} | {tok} | {fw} | {tok / fw:.2f} | {1000 * tok / ms:.0f} |")
    print(f"WeDLM / AR time ratio: {total['wedlm'][0] / total['ar'][0]:.3f}")


if __name__ == "__main__":
    main()
