#!/usr/bin/env python3
"""Conversation affinity against round robin: 3 replicas of the bundled model (`wedlm serve -t 1`)
behind deploy/haproxy's router on loopback, bench-serve's multi-turn scenario through it.

    /usr/bin/python3 bench/router_affinity.py [--conversations 4] [--turns 4] [--max-tokens 128]
                                              [--runs 6] [--kv-size TOKENS] [--header]

Each run starts fresh replicas (empty caches). Prints, per routing, the cached share of prompt
tokens pooled over the runs (round robin varies with the order requests finish in; affinity
does not), its spread, and the requests each replica took.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from router_cluster import Cluster  # noqa: E402


def one_run(policy, args, seed):
    replica_args = ("--kv-size", args.kv_size) if args.kv_size else ()
    with Cluster(policy=policy, replica_args=replica_args) as cluster, \
            tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        extra = ("--session-header", "X-Session-Id") if args.header else ()
        r = cluster.bench("--conversations", str(args.conversations), "--turns", str(args.turns),
                          "--max-tokens", str(args.max_tokens), "--seed", str(seed),
                          "--save-result", out, *extra)
        if r.returncode != 0:
            sys.exit(r.stdout + r.stderr)
        return json.load(open(out))["result"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conversations", type=int, default=4)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--kv-size", default="", help="each replica's KV pool, in tokens")
    ap.add_argument("--header", action="store_true", help="key by X-Session-Id, not the body")
    args = ap.parse_args()
    print(f"{args.conversations} conversations x {args.turns} turns, max_tokens "
          f"{args.max_tokens}, {args.runs} runs, KV {args.kv_size or 'default'}")
    print("| routing | cached share (pooled) | min-max over runs | requests per replica |")
    print("|---|---:|---:|---|")
    shares, spread = {}, {}
    for policy in ("roundrobin", "affinity"):
        results = [one_run(policy, args, seed) for seed in range(args.runs)]
        pooled = (sum(r["cached_tokens"] for r in results) /
                  sum(r["prompt_tokens"] for r in results))
        each = [r["cached_share"] for r in results]
        counts = [[int(x["requests"]) for x in r["replicas"]] for r in results]
        shares[policy], spread[policy] = pooled, statistics.pstdev(each)
        print(f"| {policy} | {pooled:.3f} | {min(each):.3f}-{max(each):.3f} | {counts[0]} |",
              flush=True)
    print(f"affinity / round robin: {shares['affinity'] / shares['roundrobin']:.2f}x "
          f"(round robin's share: stdev {spread['roundrobin']:.3f} over runs)")


if __name__ == "__main__":
    main()
