#!/usr/bin/env python3
"""The bundled model's replies to the 390 held-out prompts on the CPU and on the GPU, compared.

    python3 bench/cpu_vs_cuda_heldout.py --wedlm BIN [--lib-path DIR] [--mode wedlm] [--json F]

Runs `wedlm batch` (greedy, 320 tokens at most) over tests/data/heldout_wedlm_tiny.jsonl once
with --device cpu and once with --device cuda, and reports, overall and per family, how many
replies are identical text and how many are correct (datagen.reply_is_correct) on each device.
The CPU forward is fp32 and the device's bf16 (docs/CUDA.md), so identical text is measured, not
assumed. Each command runs under --timeout; --lib-path is prepended to LD_LIBRARY_PATH for the
engine's commands only. Exits 1 when a command fails; the rate is reported, not asserted.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "training"))
from datagen import reply_is_correct  # noqa: E402

HELDOUT = os.path.join(ROOT, "tests", "data", "heldout_wedlm_tiny.jsonl")


def run_batch(args, requests, device):
    """The batch's results by request index, on `device`."""
    cmd = [args.wedlm, "batch", "-m", os.path.join(ROOT, "models", "wedlm-tiny"), "--requests",
           requests, "--temperature", "0", "-n", "320", "--mode", args.mode, "--device", device,
           "--concurrency", str(args.concurrency)]
    env = dict(os.environ)
    if args.lib_path:
        env["LD_LIBRARY_PATH"] = args.lib_path + ":" + env.get("LD_LIBRARY_PATH", "")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr[-2000:]}")
    results = {}
    for line in r.stdout.splitlines():
        x = json.loads(line)
        if "error" in x:
            raise RuntimeError(f"{device}: request {x.get('index')} failed: {x['error']}")
        results[x["index"]] = x
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wedlm", default=os.path.join(ROOT, "build", "src", "tools", "wedlm"))
    ap.add_argument("--lib-path", default="")
    ap.add_argument("--mode", default="wedlm", choices=("wedlm", "ar"))
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--timeout", type=int, default=240, help="seconds per device's batch")
    ap.add_argument("--json", default="")
    ap.add_argument("--devices", default="cpu,cuda",
                    help="the two devices compared (cpu,cpu checks the script itself)")
    ap.add_argument("--limit", type=int, default=0, help="the first N prompts only")
    args = ap.parse_args()
    devices = args.devices.split(",")
    if len(devices) != 2:
        ap.error("--devices takes two devices")
    with open(HELDOUT) as f:
        rows = [json.loads(line) for line in f]
    rows = rows[:args.limit] if args.limit > 0 else rows
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for r in rows:
            f.write(json.dumps({"prompt_ids": r["prompt_ids"]}) + "\n")
        requests = f.name
    try:
        got = [run_batch(args, requests, d) for d in devices]
    finally:
        os.unlink(requests)
    per = collections.defaultdict(lambda: collections.Counter())
    first_differing = None
    for i, row in enumerate(rows):
        c = per[row["family"]]
        cpu, gpu = got[0][i]["text"], got[1][i]["text"]
        c["n"] += 1
        c["identical"] += cpu == gpu
        c["cpu_correct"] += reply_is_correct(row, cpu)
        c["cuda_correct"] += reply_is_correct(row, gpu)
        if cpu != gpu and first_differing is None:
            first_differing = {"index": i, "cpu": cpu[:200], "cuda": gpu[:200]}
    total = sum(per.values(), collections.Counter())
    a, b = devices
    print(f"held-out prompts, {args.mode}, greedy: {b} text identical to {a} text "
          f"{total['identical']}/{total['n']}; correct {a} {total['cpu_correct']}, "
          f"{b} {total['cuda_correct']}")
    for fam, c in sorted(per.items()):
        print(f"  {fam}: identical {c['identical']}/{c['n']}, correct {a} {c['cpu_correct']}, "
              f"{b} {c['cuda_correct']}")
    if first_differing:
        print(f"  first difference: {json.dumps(first_differing)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mode": args.mode, "total": total, "families": per,
                       "first_differing": first_differing}, f, indent=1)


if __name__ == "__main__":
    main()
