#!/usr/bin/env python3
"""The count sweep: does the model stop where a count ends? Every length N from 2 to 200 in each
count style of the training data, greedy, engine defaults, in both decoders.

    /usr/bin/python3 bench/count_sweep.py [--model models/wedlm-tiny] [--min-n 2] [--max-n 200]
                                          [--modes wedlm,ar] [--json OUT]

One `wedlm batch` process per mode runs every prompt. Each reply is one of:
  exact     the count, and nothing else;
  run-on    it did not stop at the end: it went on past the last number (more numbers, a trailing
            comma, ...) or ran to max_tokens;
  early     it stopped before the end (a proper prefix of the count);
  wrong     anything else (a wrong number inside).
Prints a row per (mode, style), its run-ons among the counts the training data has (datagen's
gen_count: 3 numbers or more, up to 64 counting up, 50 down, 30 by steps, 240 characters) apart,
and the lengths N of every run-on.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "build", "src", "tools", "wedlm")
sys.path.insert(0, os.path.join(ROOT, "training"))
from datagen import COUNT_STYLES  # noqa: E402

# The count family's prompt styles (training/datagen.py), each as the N-number count, with the
# most numbers gen_count draws for that kind of count.
STEPS = [2, 3, 5, 10]
UP, DOWN = (lambda n: list(range(1, n + 1))), (lambda n: list(range(n, 0, -1)))
BY_K = lambda n: [STEPS[n % 4] * (i + 1) for i in range(n)]  # noqa: E731
KINDS = {"up": (UP, 64), "down": (DOWN, 50), "step": (BY_K, 30)}
STYLES = {style: (fmt, *KINDS[kind]) for style, (kind, fmt) in COUNT_STYLES.items()}
TRAINED_CHARS = 240  # gen_count's longest reply


def trained(style, n, expected):
    """Whether the count family trains on counts of this style and length."""
    return 3 <= n <= STYLES[style][2] and len(expected) <= TRAINED_CHARS


def sweep_cases(min_n, max_n):
    """(style, N, prompt, expected reply) for every style and length."""
    cases = []
    for style, (fmt, seq_of, _) in STYLES.items():
        for n in range(min_n, max_n + 1):
            seq = seq_of(n)
            k = seq[1] - seq[0] if len(seq) > 1 else 1
            prompt = fmt.format(a=seq[0], b=seq[-1], k=abs(k))
            cases.append((style, n, prompt, ", ".join(map(str, seq))))
    return cases


def classify(reply, expected, finish_reason):
    reply = reply.strip()
    if finish_reason == "length":
        return "run-on"
    if reply == expected:
        return "exact"
    if reply.startswith(expected):
        return "run-on"
    if expected.startswith(reply):
        return "early"
    return "wrong"


def run_mode(binary, model, cases, mode, threads):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for _, _, prompt, expected in cases:
            f.write(json.dumps({"messages": [{"role": "user", "content": prompt}],
                                "max_tokens": len(expected) + 32}) + "\n")
        path = f.name
    cmd = [binary, "batch", "-m", model, "--requests", path, "--temperature", "0", "--mode", mode,
           "--concurrency", "16"] + (["-t", str(threads)] if threads else [])
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    finally:
        os.unlink(path)
    results = sorted((json.loads(line) for line in r.stdout.splitlines()),
                     key=lambda x: x["index"])
    bad = [x for x in results if "error" in x]
    if r.returncode != 0 or bad or len(results) != len(cases):
        sys.exit(f"wedlm batch failed: {bad[:1] or r.stderr[-500:]}")
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=BIN)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "wedlm-tiny"))
    ap.add_argument("--min-n", type=int, default=2)
    ap.add_argument("--max-n", type=int, default=200)
    ap.add_argument("--modes", default="wedlm,ar")
    ap.add_argument("-t", "--threads", type=int, default=0)
    ap.add_argument("--json", help="write every case's outcome here")
    args = ap.parse_args()
    cases = sweep_cases(args.min_n, args.max_n)
    print(f"count sweep: N = {args.min_n}..{args.max_n}, {len(STYLES)} styles, "
          f"{len(cases)} prompts per mode, {args.model}")
    print("| mode | style | exact | run-on | early | wrong | run-on, trained lengths |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    report, run_ons = [], {}
    for mode in args.modes.split(","):
        results = run_mode(args.bin, args.model, cases, mode, args.threads)
        by_style = {}
        for (style, n, prompt, expected), res in zip(cases, results):
            kind = classify(res["text"], expected, res["finish_reason"])
            c = by_style.setdefault(style, {"exact": 0, "run-on": 0, "early": 0, "wrong": 0,
                                            "trained": 0, "trained run-on": 0})
            c[kind] += 1
            if trained(style, n, expected):
                c["trained"] += 1
                c["trained run-on"] += kind == "run-on"
            if kind == "run-on":
                run_ons.setdefault(mode, []).append(f"{style} {n}")
            report.append({"mode": mode, "style": style, "n": n, "prompt": prompt,
                           "outcome": kind, "reply": res["text"]})
        for style, c in by_style.items():
            print(f"| {mode} | {style} | {c['exact']} | {c['run-on']} | {c['early']} | "
                  f"{c['wrong']} | {c['trained run-on']} of {c['trained']} |", flush=True)
    for mode, items in run_ons.items():
        print(f"{mode} run-ons ({len(items)}): {', '.join(items[:60])}"
              f"{' ...' if len(items) > 60 else ''}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
