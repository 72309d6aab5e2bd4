#!/usr/bin/env python3
"""WeDLM-8B-shaped steps on one GPU: this engine against Hugging Face transformers, one run.

    python3 bench/cuda_vs_transformers.py [--wedlm build/src/tools/wedlm] [--out DIR]

Random bf16 weights in the WeDLM-8B shape (36 layers, hidden 4096, 32/8 heads x 128, FFN 12288,
vocab 151936, QK-norm), a 512-token context. Times, each the median of -r repetitions:
  - this engine: `wedlm bench --device cuda --random-weights wedlm-8b`: WeDLM steps (window 16)
    and AR steps after 512 random prompt tokens at batch 1 and 8, and a 2048-token prefill;
    WeDLM steps once more sampled (temperature 0.8, top-p 0.95: the device's sampler);
  - transformers (Qwen3ForCausalLM, eager and SDPA attention, same shapes, same GPU): the same
    steps as forwards over a 512-token cache (16 rows for a WeDLM step, 1 for AR), CUDA events;
  - the floors: the weights' bytes over the copy bandwidth measured here (read + write).
Prints a markdown table; with --out, also writes the raw figures as JSON there.
Needs a GPU, PyTorch and transformers (the GPU machine has them); not part of the test suite.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHAPE = dict(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
             num_attention_heads=32, num_key_value_heads=8, head_dim=128,
             max_position_embeddings=4096, rope_theta=1e6, rms_norm_eps=1e-6,
             tie_word_embeddings=False)
CONTEXT, WINDOW = 512, 16


def copy_bandwidth_gbs():
    """Device-to-device copy of 4 GiB, bytes read + written per second."""
    a = torch.empty(1 << 31, dtype=torch.bfloat16, device="cuda").normal_()
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
    return 2 * (1 << 31) * 2 / ms / 1e6


def engine_figures(binary, reps, graphs, sampled=False):
    """ms per decode step and per 2048-token prefill from `wedlm bench` (JSON); `graphs`: with
    the experimental paths on (CUDA graphs, tiled tensor-core attention); `sampled`: WeDLM steps
    only, drawn at temperature 0.8, top-p 0.95."""
    cmd = [binary, "bench", "--device", "cuda", "--random-weights", "wedlm-8b", "-p", "2048",
           "-n", "32", "-d", str(CONTEXT), "--mode", "wedlm,ar", "--window", str(WINDOW),
           "--parallel", "1,8", "-r", str(reps), "-o", "json"]
    if sampled:
        cmd += ["-p", "0", "--mode", "wedlm", "--temperature", "0.8", "--top-p", "0.95"]
    if graphs:
        cmd += ["--cuda-graphs", "--cuda-tiled-attention"]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    fig = {"gpu": out.get("cpu", ""), "build": out.get("build_commit", "")}
    for r in out["results"]:
        tps = statistics.median(r["tokens_per_s"]["samples"])
        if r["test"] == "pp2048":
            if r["parallel"] == 1 and r["mode"] == "ar":
                fig["prefill_2048_ms"] = 2048 * 1000.0 / tps
            continue
        step_ms = 1000.0 * r["parallel"] * r["tokens_per_forward"] / tps
        key = f"{r['mode']}_step_b{r['parallel']}"
        fig[key + "_ms"] = step_ms
        fig[key + "_tokens_per_forward"] = r["tokens_per_forward"]
    return fig


def hf_step_ms(model, batch, rows, reps):
    """One forward of `rows` new tokens per sequence over a CONTEXT-token cache, median ms."""
    from transformers import DynamicCache
    vocab = SHAPE["vocab_size"]
    with torch.no_grad():
        ctx = torch.randint(0, vocab, (batch, CONTEXT), device="cuda")
        cache = DynamicCache()
        model(ctx, past_key_values=cache, use_cache=True, logits_to_keep=1)
        step = torch.randint(0, vocab, (batch, rows), device="cuda")
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


def hf_figures(reps):
    from transformers import Qwen3Config, Qwen3ForCausalLM
    fig = {"transformers": __import__("transformers").__version__, "torch": torch.__version__}
    for impl in ("eager", "sdpa"):
        cfg = Qwen3Config(**SHAPE, attn_implementation=impl)
        with torch.device("cuda"):
            model = Qwen3ForCausalLM(cfg).to(torch.bfloat16).eval()
        for batch in (1, 8):
            fig[f"{impl}_wedlm_step_b{batch}_ms"] = hf_step_ms(model, batch, WINDOW, reps)
            fig[f"{impl}_ar_step_b{batch}_ms"] = hf_step_ms(model, batch, 1, reps)
        del model
        torch.cuda.empty_cache()
    return fig


def weight_bytes():
    h, f, v, n = SHAPE["hidden_size"], SHAPE["intermediate_size"], SHAPE["vocab_size"], 36
    q, kv = 32 * 128, 8 * 128
    layer = h * (q + 2 * kv) + q * h + 3 * h * f + 2 * h + 2 * 128
    return 2 * (n * layer + 2 * v * h + h)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wedlm", default=os.path.join(ROOT, "build", "src", "tools", "wedlm"))
    ap.add_argument("-r", "--repetitions", type=int, default=5)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark needs a GPU")
    fig = {"copy_gbs": copy_bandwidth_gbs(), "weight_bytes": weight_bytes()}
    fig["floor_ms"] = fig["weight_bytes"] / (fig["copy_gbs"] * 1e6 / 2)  # bytes read once
    fig.update(engine_figures(args.wedlm, args.repetitions, graphs=False))
    fig.update({"graphs_" + k: v for k, v in
                engine_figures(args.wedlm, args.repetitions, graphs=True).items()})
    fig.update({"sampled_" + k: v for k, v in
                engine_figures(args.wedlm, args.repetitions, graphs=False, sampled=True).items()})
    fig.update(hf_figures(args.repetitions))
    if args.out:
        with open(os.path.join(args.out, "cuda_vs_transformers.json"), "w") as f:
            json.dump(fig, f, indent=1)
    print(f"GPU: {fig['gpu']}; copy {fig['copy_gbs']:.0f} GB/s (read + write); weights "
          f"{fig['weight_bytes'] / 1e9:.2f} GB; floor {fig['floor_ms']:.2f} ms per step")
    print("| step | wedlm.cpp ms | + graphs, tiled attention ms | transformers eager ms | "
          "transformers SDPA ms "
          "| SDPA / best of ours |")
    print("|---|---:|---:|---:|---:|---:|")
    nan = float("nan")
    for mode in ("wedlm", "ar"):
        for b in (1, 8):
            ours = fig.get(f"{mode}_step_b{b}_ms", nan)
            graphed = fig.get(f"graphs_{mode}_step_b{b}_ms", nan)
            eager, sdpa = fig[f"eager_{mode}_step_b{b}_ms"], fig[f"sdpa_{mode}_step_b{b}_ms"]
            print(f"| {mode} batch {b} | {ours:.2f} | {graphed:.2f} | {eager:.2f} | {sdpa:.2f} | "
                  f"{sdpa / min(ours, graphed):.1f}x |")
    for b in (1, 8):
        print(f"| wedlm batch {b}, sampled | {fig.get(f'sampled_wedlm_step_b{b}_ms', nan):.2f} "
              "| | | | |")
    print(f"| prefill 2048 | {fig.get('prefill_2048_ms', nan):.1f} | "
          f"{fig.get('graphs_prefill_2048_ms', nan):.1f} | | | |")


if __name__ == "__main__":
    main()
