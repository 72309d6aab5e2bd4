#!/usr/bin/env python3
"""WeDLM against AR decoding on the same engine and weights, side by side (a benchmark, not a test).

    python3 bench/wedlm_vs_ar.py [--family count] [-r 8]                  # whole-process wall-clock
    python3 bench/wedlm_vs_ar.py --family each -r 4                       # a row per task family
    python3 bench/wedlm_vs_ar.py --method per-prompt [-r 3]               # engine time per prompt

Greedy, engine defaults (window 16, threshold 0.4, penalty 0.02), the held-out prompts of one task
family (or `all`).

--method batch (default): one `wedlm batch --concurrency 1` process runs every prompt in turn, as a
server would; the figure is that process's wall-clock time, model load included. The modes alternate
in ABBA order over -r pairs so that the machine's drift hits both alike; each pair gives a WeDLM/AR
ratio, reported as median (min-max).

--method per-prompt: one `wedlm generate` process per prompt and mode; the figure is the engine's
prefill + decode time, best of -r per prompt, summed. Every prompt then pays a cold start (first
touch of the weights and buffers, thread start) inside its prefill, in both modes alike.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "training"))
from datagen import reply_is_correct  # noqa: E402

MAX_TOKENS = 320


def batch_run(binary, requests, mode, threads):
    """Wall seconds, generated tokens, forwards, correct replies of one `wedlm batch` process."""
    cmd = [binary, "batch", "--requests", requests, "--temperature", "0", "-n", str(MAX_TOKENS),
           "--mode", mode, "--concurrency", "1", "-t", str(threads)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    results = [json.loads(line) for line in r.stdout.splitlines()]
    errors = [x for x in results if "error" in x]
    if errors:
        sys.exit(f"wedlm batch failed a request: {errors[0]}")
    return wall, results


def tally(results, rows):
    tokens = sum(len(x["output_ids"]) for x in results)
    forwards = sum(x["counters"]["forwards"] for x in results)
    correct = sum(reply_is_correct(rows[x["index"]], x["text"]) for x in results)
    return tokens, forwards, correct


def spread(values, fmt):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-" \
           f"{fmt.format(max(values))})"


def measure_batch(args, rows):
    """Per mode: wall seconds of each run and (tokens, forwards, correct); ratios per pair."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for r in rows:
            f.write(json.dumps({"prompt_ids": r["prompt_ids"]}) + "\n")
    walls = {"wedlm": [], "ar": []}
    tallies = {}
    try:
        for rep in range(args.repetitions):
            order = ("wedlm", "ar") if rep % 2 == 0 else ("ar", "wedlm")
            for mode in order:
                wall, results = batch_run(args.wedlm, f.name, mode, args.threads)
                walls[mode].append(wall)
                tallies[mode] = tally(results, rows)
    finally:
        os.unlink(f.name)
    ratios = [w / a for w, a in zip(walls["wedlm"], walls["ar"])]
    return walls, tallies, ratios


def bench_batch(args, rows):
    walls, tallies, ratios = measure_batch(args, rows)
    print(f"{len(rows)} '{args.family}' prompts, one `wedlm batch --concurrency 1` process per run, "
          f"{args.repetitions} runs per mode (ABBA order)")
    print("| mode | wall s, median (min-max) | tokens | forwards | tokens/forward | tokens/s "
          "(median) | exact answers |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in ("wedlm", "ar"):
        tok, fw, ok = tallies[mode]
        print(f"| {mode} | {spread(walls[mode], '{:.3f}')} | {tok} | {fw} | {tok / fw:.2f} | "
              f"{tok / statistics.median(walls[mode]):.0f} | {ok}/{len(rows)} |")
    print(f"WeDLM / AR wall-clock ratio per pair: {spread(ratios, '{:.3f}')}")


def bench_each_family(args, rows):
    families = sorted({r["family"] for r in rows})
    print(f"{len(rows)} held-out prompts, per family one `wedlm batch --concurrency 1` process per "
          f"run, {args.repetitions} runs per mode (ABBA order)")
    print("| family | n | WeDLM exact | AR exact | WeDLM tokens/forward | WeDLM s | AR s | "
          "WeDLM/AR wall-clock |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for fam in families:
        sub = [r for r in rows if r["family"] == fam]
        walls, tallies, ratios = measure_batch(args, sub)
        (tok, fw, ok_w), ok_a = tallies["wedlm"], tallies["ar"][2]
        print(f"| {fam} | {len(sub)} | {ok_w / len(sub):.3f} | {ok_a / len(sub):.3f} | "
              f"{tok / fw:.2f} | {statistics.median(walls['wedlm']):.3f} | "
              f"{statistics.median(walls['ar']):.3f} | {spread(ratios, '{:.2f}')} |", flush=True)


def generate_run(binary, ids, mode, threads):
    cmd = [binary, "generate", "--prompt-ids", ",".join(map(str, ids)), "--json",
           "--temperature", "0", "--mode", mode, "-n", str(MAX_TOKENS), "-t", str(threads)]
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return r["timings"]["prefill_ms"] + r["timings"]["decode_ms"], len(r["output_ids"]), \
        r["forwards"]


def bench_per_prompt(args, rows):
    total = {"wedlm": [0.0, 0, 0], "ar": [0.0, 0, 0]}
    for r in rows:
        for mode in ("wedlm", "ar"):
            runs = [generate_run(args.wedlm, r["prompt_ids"], mode, args.threads)
                    for _ in range(args.repetitions)]
            total[mode][0] += min(x[0] for x in runs)
            total[mode][1] += runs[0][1]
            total[mode][2] += runs[0][2]
    print(f"{len(rows)} '{args.family}' prompts, one `wedlm generate` process per prompt, "
          f"best of {args.repetitions} per prompt and mode")
    print("| mode | engine time (ms) | tokens | forwards | tokens/forward | tokens/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, (ms, tok, fw) in total.items():
        print(f"| {mode} | {ms:.1f} | {tok} | {fw} | {tok / fw:.2f} | {1000 * tok / ms:.0f} |")
    print(f"WeDLM / AR engine-time ratio: {total['wedlm'][0] / total['ar'][0]:.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", default="count",
                    help="a held-out task family, all (together), or each (a table row per family)")
    ap.add_argument("--method", choices=("batch", "per-prompt"), default="batch")
    ap.add_argument("-r", "--repetitions", type=int, default=None,
                    help="runs per mode (batch, default 8) or per prompt and mode (per-prompt, 3)")
    ap.add_argument("-t", "--threads", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="only the first N prompts (0 = all)")
    ap.add_argument("--wedlm", default=os.path.join(ROOT, "build", "src", "tools", "wedlm"))
    ap.add_argument("--heldout", default=os.path.join(ROOT, "tests", "data",
                                                      "heldout_wedlm_tiny.jsonl"))
    args = ap.parse_args()
    if args.repetitions is None:
        args.repetitions = 8 if args.method == "batch" else 3
    if args.repetitions < 1:
        ap.error("--repetitions must be at least 1")
    rows = [json.loads(x) for x in open(args.heldout)]
    rows = [r for r in rows if args.family in ("all", "each", r["family"])]
    if args.limit > 0:
        rows = rows[:args.limit]
    if not rows:
        ap.error(f"no held-out prompts of family '{args.family}'")
    if args.family == "each":
        if args.method != "batch":
            ap.error("--family each goes with --method batch")
        bench_each_family(args, rows)
    else:
        (bench_batch if args.method == "batch" else bench_per_prompt)(args, rows)


if __name__ == "__main__":
    main()
