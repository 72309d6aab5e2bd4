#!/usr/bin/env python3
"""Serving-engine figures (a benchmark, not a test): aggregate committed tokens/s at several
concurrency levels in WeDLM and AR mode, and the prefill of a conversation's second turn with and
without the prefix cache.

    /usr/bin/python3 bench/serving_throughput.py                      # bundled model, held-out prompts
    /usr/bin/python3 bench/serving_throughput.py -m /tmp/qwen3-0.6b -n 16 --prompt-len 64

Each level c runs `wedlm batch --concurrency c` over waves x c requests (c clients, each sending
its next request when the last one ends) with greedy decoding; tokens/s = all committed tokens / wall time of the batch, engine
load excluded. The bundled model uses held-out chat prompts (their replies end at EOS, lengths
vary); other models get random prompt ids and decode max_tokens tokens each (random weights rarely
emit EOS). The second-turn figure runs turn 1, then turn 2 = turn 1 + its reply + a new message,
once in the same engine (cache warm) and once alone (cold), and reports the engine's prefill_ms.
"""

import argparse
import json
import os
import random
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def batch(args, lines, mode, concurrency):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("".join(json.dumps(x) + "\n" for x in lines))
    cmd = [args.wedlm, "batch", "-m", args.model, "--requests", f.name, "--json",
           "--concurrency", str(concurrency), "--mode", mode, "--temperature", "0",
           "-n", str(args.max_tokens), "--max-running", "16"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    os.unlink(f.name)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    results = [json.loads(x) for x in p.stdout.splitlines()]
    return results, json.loads(p.stderr.strip().splitlines()[-1])


def prompts(args, n):
    if args.model == os.path.join(ROOT, "models", "wedlm-tiny"):
        rows = [json.loads(x) for x in open(os.path.join(ROOT, "tests", "data",
                                                         "heldout_wedlm_tiny.jsonl"))]
        return [{"prompt_ids": rows[(i * 37) % len(rows)]["prompt_ids"]} for i in range(n)]
    vocab = json.load(open(os.path.join(args.model, "config.json")))["vocab_size"]
    rng = random.Random(1)
    return [{"prompt_ids": [rng.randrange(1000, min(vocab, 150000)) for _ in range(args.prompt_len)]}
            for _ in range(n)]


def second_turn(args, mode):
    first = prompts(args, 1)[0]
    (r1,), _ = batch(args, [first], mode, 1)
    new = prompts(args, 2)[1]["prompt_ids"][: max(8, args.prompt_len // 4)]
    turn2 = {"prompt_ids": first["prompt_ids"] + r1["output_ids"] + new}
    warm, _ = batch(args, [first, turn2], mode, 1)
    (cold,), _ = batch(args, [turn2], mode, 1)
    return warm[1], cold


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", default=os.path.join(ROOT, "models", "wedlm-tiny"))
    ap.add_argument("-n", "--max-tokens", type=int, default=64)
    ap.add_argument("--prompt-len", type=int, default=64, help="random prompts (other models)")
    ap.add_argument("--levels", default="1,4,8")
    ap.add_argument("--waves", type=int, default=2, help="requests per level = waves x level")
    ap.add_argument("--modes", default="wedlm,ar")
    ap.add_argument("--wedlm", default=os.path.join(ROOT, "build", "src", "tools", "wedlm"))
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    print(f"model {args.model}, max_tokens {args.max_tokens}\n")
    print("| mode | concurrent | requests | tokens | wall s | tokens/s | x of 1 | steps | tok/step |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        base = None
        for c in levels:
            _, s = batch(args, prompts(args, args.waves * c), mode, c)
            base = base or s["tokens_per_s"]
            print(f"| {mode} | {c} | {s['requests']} | {s['completion_tokens']} | {s['wall_s']:.2f} "
                  f"| {s['tokens_per_s']:.1f} | {s['tokens_per_s'] / base:.2f} | {s['steps']} "
                  f"| {s['completion_tokens'] / max(1, s['steps']):.2f} |", flush=True)
    print("\n| mode | turn-2 prompt | cached | prefill rows | prefill ms (warm) | prefill ms (cold) |")
    print("|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        warm, cold = second_turn(args, mode)
        print(f"| {mode} | {warm['usage']['prompt_tokens']} | {warm['usage']['cached_tokens']} "
              f"| {warm['counters']['prefill_tokens']} | {warm['counters']['prefill_ms']:.1f} "
              f"| {cold['counters']['prefill_ms']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
