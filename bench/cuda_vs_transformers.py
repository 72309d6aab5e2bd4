#!/usr/bin/env python3
"""WeDLM-8B-shaped steps on one GPU: this engine against its floor and Hugging Face transformers.

    python3 bench/cuda_vs_transformers.py --phases copy,eager,graphs,prefill,sampled,optimes \\
        --wedlm BIN [--lib-path DIR] --json FIGS.json
    python3 bench/cuda_vs_transformers.py --phases transformers,table --json FIGS.json

Random bf16 weights in the WeDLM-8B shape (36 layers, hidden 4096, 32/8 heads x 128, FFN 12288,
vocab 151936, QK-norm), a 512-token context, -r 3 (medians). Phases, each written to --json as
soon as it ends (a later phase's failure or timeout loses nothing), each engine command under a
timeout with its stderr's tail printed when it fails:
  copy          the floor: a device copy moving (read + written) the bytes a step streams (the
                weights without the embedding table, which a step only gathers rows of:
                15.1 GB), timed with PyTorch: ~5.0 ms at the H100's ~3.0 TB/s;
  eager         `wedlm bench`: WeDLM steps (window 16) and AR steps at batch 1 and 8;
  graphs        the same with --cuda-graphs;
  prefill       a 2048-token prefill at batch 1, with and without --cuda-tiled-attention;
  sampled       WeDLM steps drawn at temperature 0.8, top-p 0.95 (the device's sampler), graphs;
  optimes       --cuda-op-times on a WeDLM and an AR step at batch 1: where a step's time goes
                (the tables printed, and kept in the JSON);
  transformers  Qwen3ForCausalLM with SDPA attention, batch 1: a 16-row forward over a 512-token
                cache (a WeDLM step) and a 1-row one (an AR step), CUDA events;
  table         the markdown table of whatever the JSON holds.
Engine phases need the `wedlm` binary; copy and transformers need PyTorch (and transformers).
--lib-path is prepended to LD_LIBRARY_PATH for the engine's commands only (PyTorch keeps its
own CUDA libraries). Not part of the test suite: it needs a GPU.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHAPE = dict(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
             num_attention_heads=32, num_key_value_heads=8, head_dim=128,
             max_position_embeddings=4096, rope_theta=1e6, rms_norm_eps=1e-6,
             tie_word_embeddings=False)
CONTEXT, WINDOW = 512, 16
PHASES = ("copy", "eager", "graphs", "prefill", "sampled", "optimes", "transformers", "table")


def step_bytes():
    """Bytes a decode step streams: every layer's weights, the final norm and the LM head; the
    embedding table is only gathered (a row per token), so it is not counted."""
    h, f, v, n = SHAPE["hidden_size"], SHAPE["intermediate_size"], SHAPE["vocab_size"], 36
    q, kv, d = 32 * 128, 8 * 128, SHAPE["head_dim"]
    layer = h * (q + 2 * kv) + q * h + 3 * h * f + 2 * h + 2 * d
    return 2 * (n * layer + v * h + h)


def copy_phase(args):
    """The floor of a step: the median ms of a device-to-device copy that moves step_bytes() in
    all (half read, half written), i.e. the step's bytes at the bandwidth a copy reaches (~3.0
    TB/s read + write on the H100: ~5.0 ms)."""
    import torch
    n = step_bytes() // 4  # bf16 elements: step_bytes() / 2 bytes read, as many written
    a = torch.empty(n, dtype=torch.bfloat16, device="cuda").normal_()
    b = torch.empty_like(a)
    times = []
    for _ in range(6):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        b.copy_(a)
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    ms = statistics.median(times[1:])
    del a, b
    torch.cuda.empty_cache()
    return {"step_bytes": step_bytes(), "floor_ms": ms, "copy_gbs": step_bytes() / ms / 1e6,
            "torch": torch.__version__, "gpu_torch": torch.cuda.get_device_name()}


def engine(args, extra, timeout, reps=None):
    """`wedlm bench` on the 8B shape with `extra` flags (`reps` repetitions, default -r): its
    JSON and stderr, or raises with stderr's tail."""
    cmd = [args.wedlm, "bench", "--device", "cuda", "--random-weights", "wedlm-8b",
           "-d", str(CONTEXT), "--window", str(WINDOW), "-r", str(reps or args.repetitions),
           "-o", "json"] + extra
    env = dict(os.environ)
    if args.lib_path:
        env["LD_LIBRARY_PATH"] = args.lib_path + ":" + env.get("LD_LIBRARY_PATH", "")
    print("$ " + " ".join(cmd), flush=True)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        tail = (e.stderr or b"")[-2000:]
        raise RuntimeError(f"timed out after {timeout} s; stderr tail:\n"
                           f"{tail.decode() if isinstance(tail, bytes) else tail}")
    if r.returncode != 0:
        raise RuntimeError(f"exit {r.returncode}; stderr tail:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout), r.stderr


def step_figures(out, prefix):
    fig = {"gpu": out.get("cpu", ""), "build": out.get("build_commit", "")}
    for r in out["results"]:
        tps = statistics.median(r["tokens_per_s"]["samples"])
        if r["test"].startswith("pp"):
            fig[f"{prefix}prefill_{r['test'][2:]}_ms"] = int(r["test"][2:]) * 1000.0 / tps
            continue
        key = f"{prefix}{r['mode']}_step_b{r['parallel']}"
        fig[key + "_ms"] = 1000.0 * r["parallel"] * r["tokens_per_forward"] / tps
        fig[key + "_tokens_per_forward"] = r["tokens_per_forward"]
    return fig


STEPS = ["-p", "0", "-n", "32", "--mode", "wedlm,ar", "--parallel", "1,8"]


def eager_phase(args):
    return step_figures(engine(args, STEPS, args.timeout)[0], "")


def graphs_phase(args):
    return step_figures(engine(args, STEPS + ["--cuda-graphs"], args.timeout)[0], "graphs_")


def prefill_phase(args):
    pp = ["-p", "2048", "-n", "0", "--mode", "ar", "--parallel", "1"]
    fig = step_figures(engine(args, pp, args.timeout)[0], "")
    fig.update(step_figures(engine(args, pp + ["--cuda-tiled-attention"], args.timeout)[0],
                            "tiled_"))
    return fig


def sampled_phase(args):
    extra = ["-p", "0", "-n", "32", "--mode", "wedlm", "--parallel", "1,8", "--temperature",
             "0.8", "--top-p", "0.95", "--cuda-graphs"]
    return step_figures(engine(args, extra, args.timeout)[0], "sampled_")


def optimes_phase(args):
    extra = ["-p", "0", "-n", "16", "--mode", "wedlm,ar", "--parallel", "1", "--cuda-op-times"]
    _, err = engine(args, extra, args.timeout, reps=1)
    table = err[err.find("forwards of "):] if "forwards of " in err else err[-3000:]
    print(table, flush=True)
    return {"op_times": table}


def hf_step_ms(model, rows, reps):
    """One forward of `rows` new tokens over a CONTEXT-token cache at batch 1, median ms."""
    import torch
    from transformers import DynamicCache
    vocab = SHAPE["vocab_size"]
    with torch.no_grad():
        cache = DynamicCache()
        model(torch.randint(0, vocab, (1, CONTEXT), device="cuda"), past_key_values=cache,
              use_cache=True, logits_to_keep=1)
        step = torch.randint(0, vocab, (1, rows), device="cuda")
        times = []
        for i in range(reps + 3):
            cache.crop(CONTEXT)
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            model(step, past_key_values=cache, use_cache=True)
            e.record()
            torch.cuda.synchronize()
            if i >= 3:
                times.append(s.elapsed_time(e))
    return statistics.median(times)


def transformers_phase(args):
    import torch
    import transformers
    from transformers import Qwen3Config, Qwen3ForCausalLM
    cfg = Qwen3Config(**SHAPE, attn_implementation="sdpa")
    with torch.device("cuda"):
        model = Qwen3ForCausalLM(cfg).to(torch.bfloat16).eval()
    fig = {"transformers": transformers.__version__,
           "sdpa_wedlm_step_b1_ms": hf_step_ms(model, WINDOW, args.repetitions),
           "sdpa_ar_step_b1_ms": hf_step_ms(model, 1, args.repetitions)}
    del model
    torch.cuda.empty_cache()
    return fig


def table(fig):
    nan = float("nan")
    g = lambda k: fig.get(k, nan)  # noqa: E731
    floor = g("floor_ms")
    lines = [f"GPU: {fig.get('gpu', '?')}; floor (a copy moving {g('step_bytes') / 1e9:.2f} GB):"
             f" {floor:.2f} ms ({g('copy_gbs'):.0f} GB/s read + write)",
             "| step | eager ms | graphs ms | best / floor | target | SDPA ms | SDPA / best |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    targets = {("wedlm", 1): 1.15, ("wedlm", 8): 1.4, ("ar", 1): 1.15}
    for mode in ("wedlm", "ar"):
        for b in (1, 8):
            eager, graphed = g(f"{mode}_step_b{b}_ms"), g(f"graphs_{mode}_step_b{b}_ms")
            best = min(eager, graphed) if eager == eager and graphed == graphed else \
                (eager if eager == eager else graphed)
            sdpa = g(f"sdpa_{mode}_step_b{b}_ms")
            target = targets.get((mode, b))
            lines.append(f"| {mode} batch {b} | {eager:.2f} | {graphed:.2f} | "
                         f"{best / floor:.2f}x | {f'<= {target}x' if target else ''} | "
                         f"{'' if sdpa != sdpa else f'{sdpa:.2f}'} | "
                         f"{'' if sdpa != sdpa else f'{sdpa / best:.1f}x (>= 6x)' if b == 1 else ''} |")
    for b in (1, 8):
        lines.append(f"| wedlm batch {b}, sampled | | {g(f'sampled_wedlm_step_b{b}_ms'):.2f} | "
                     f"| | | |")
    lines.append(f"| prefill 2048 (target <= 60 ms) | {g('prefill_2048_ms'):.1f} | "
                 f"tiled: {g('tiled_prefill_2048_ms'):.1f} | | | | |")
    for k in sorted(fig):
        if k.endswith("_error"):
            lines.append(f"phase {k[:-6]} FAILED: {fig[k].splitlines()[0]}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phases", default=",".join(PHASES))
    ap.add_argument("--wedlm", default=os.path.join(ROOT, "build", "src", "tools", "wedlm"))
    ap.add_argument("--lib-path", default="", help="LD_LIBRARY_PATH prefix for the engine")
    ap.add_argument("-r", "--repetitions", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=150, help="seconds per engine command")
    ap.add_argument("--json", default="", help="figures file: read, updated after every phase")
    args = ap.parse_args()
    phases = args.phases.split(",")
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        ap.error(f"unknown phases {unknown}; known: {', '.join(PHASES)}")
    fig = {}
    if args.json and os.path.exists(args.json):
        with open(args.json) as f:
            fig = json.load(f)
    failed = False
    for phase in phases:
        if phase == "table":
            continue
        t0 = time.monotonic()
        try:
            fig.update(globals()[phase + "_phase"](args))
            fig.pop(phase + "_error", None)
            print(f"== {phase}: done in {time.monotonic() - t0:.0f} s", flush=True)
        except Exception as e:  # noqa: BLE001 - reported, and the next phase still runs
            failed = True
            fig[phase + "_error"] = str(e)
            print(f"== {phase}: FAILED after {time.monotonic() - t0:.0f} s: {e}", flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(fig, f, indent=1)
    if "table" in phases:
        print(table(fig), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
