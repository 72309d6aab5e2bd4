"""Tiny random checkpoints and their float64 reference traces, for the engine's parity tests.

    /usr/bin/python3 reference/make_fixtures.py --out tests/data/fixtures

For each variant (both families; head_dim given and derived; tied and untied; BF16, F16 and F32
weights) writes DIR/<name>/{config.json, generation_config.json, model.safetensors} and
DIR/<name>.json in the format of ../shared/fixtures/hf_golden_tiny_qwen3.json: next-token
logprobs, greedy AR outputs and greedy WeDLM traces (window 8 and 16, a threshold and one-slot
mode). Decisions are checked for margin (no adjusted entropy within 1e-3 of the threshold, no
chosen token within 1e-4 of the runner-up) so float32 engines cannot legitimately flip them.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from decode_np import ar_generate, next_logprobs, wedlm_generate  # noqa: E402
from model_np import RefModel  # noqa: E402

VARIANTS = {
    # name: (config overrides, weight dtype)
    "qwen3-headdim-tied": ({"model_type": "wedlm", "hidden_size": 48, "num_attention_heads": 4,
                            "num_key_value_heads": 2, "head_dim": 16, "qk_norm": True,
                            "attention_bias": False, "tie_word_embeddings": True}, "BF16"),
    "qwen3-untied": ({"model_type": "qwen3", "hidden_size": 32, "num_attention_heads": 4,
                      "num_key_value_heads": 1, "head_dim": 8, "tie_word_embeddings": False},
                     "BF16"),
    "qwen2-derived-headdim": ({"model_type": "wedlm", "hidden_size": 40, "num_attention_heads": 5,
                               "num_key_value_heads": 1, "attention_bias": True, "qk_norm": False,
                               "tie_word_embeddings": False}, "F16"),
    "qwen2-plain-f32": ({"model_type": "qwen2", "hidden_size": 32, "num_attention_heads": 2,
                         "num_key_value_heads": 2, "tie_word_embeddings": True}, "F32"),
}
VOCAB, MASK, STOP = 256, 255, 254
CANDIDATE_THRESHOLDS = [x / 4 for x in range(2, 40)]


def config(overrides):
    c = {"architectures": ["WeDLMForCausalLM"], "vocab_size": VOCAB, "intermediate_size": 64,
         "num_hidden_layers": 2, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
         "max_position_embeddings": 512, "mask_token_id": MASK, "eos_token_id": STOP,
         "hidden_act": "silu"}
    c.update(overrides)
    return c


def tensors(c, rng):
    H, F, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    D = c.get("head_dim") or H // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * D, c["num_key_value_heads"] * D
    bias = c.get("attention_bias", c["model_type"] == "qwen2")
    qk = c.get("qk_norm", c["model_type"] == "qwen3")
    w = lambda *s: rng.normal(0, 0.5 / np.sqrt(s[-1]), s) if len(s) == 2 else 1 + 0.2 * rng.normal(size=s)
    t = {"model.embed_tokens.weight": rng.normal(0, 2.0 / np.sqrt(H), (VOCAB, H)),
         "model.norm.weight": w(H)}
    if not c["tie_word_embeddings"]:
        t["lm_head.weight"] = rng.normal(0, 1.5 / np.sqrt(H), (VOCAB, H))
    for i in range(L):
        p = f"model.layers.{i}."
        t.update({p + "input_layernorm.weight": w(H), p + "post_attention_layernorm.weight": w(H),
                  p + "self_attn.q_proj.weight": w(q, H), p + "self_attn.k_proj.weight": w(kv, H),
                  p + "self_attn.v_proj.weight": w(kv, H), p + "self_attn.o_proj.weight": w(H, q),
                  p + "mlp.gate_proj.weight": w(F, H), p + "mlp.up_proj.weight": w(F, H),
                  p + "mlp.down_proj.weight": w(H, F)})
        if bias:
            for n, d in (("q", q), ("k", kv), ("v", kv)):
                t[p + f"self_attn.{n}_proj.bias"] = 0.1 * rng.normal(size=d)
        if qk:
            t[p + "self_attn.q_norm.weight"] = w(D)
            t[p + "self_attn.k_norm.weight"] = w(D)
    return t


def encode(a, dtype):
    a = np.ascontiguousarray(a, np.float32)
    if dtype == "F32":
        return a.tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    u = a.view(np.uint32).astype(np.uint64)                      # bf16, round to nearest even
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype("<u2").tobytes()


def write_safetensors(path, ts, dtype):
    header, blobs, off = {}, [], 0
    for name in sorted(ts):
        raw = encode(ts[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(ts[name].shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def safe(margins):
    return all(v > (1e-4 if k == "logit" else 1e-3) for k, v in margins.items())


def pick_threshold(m, prompts, stop, window):
    """The first threshold whose traces keep every decision away from float32 flips and fill more
    than one slot per step on average (so that the parallel path is exercised)."""
    for th in CANDIDATE_THRESHOLDS:
        marg = {}
        traces = [wedlm_generate(m, p, 24, stop, window, th, 0.02, marg) for p in prompts]
        fills = [len(s["fill"]) for t in traces for s in t["steps"] if s["fill"]]
        if safe(marg) and sum(fills) / len(fills) > 1.5:
            return th, traces
    raise RuntimeError("no safe threshold")


def make(name, out, rng):
    overrides, dtype = VARIANTS[name]
    c = config(overrides)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    json.dump(c, open(os.path.join(d, "config.json"), "w"), indent=1)
    json.dump({"eos_token_id": [STOP, 253]}, open(os.path.join(d, "generation_config.json"), "w"))
    write_safetensors(os.path.join(d, "model.safetensors"), tensors(c, rng), dtype)
    m = RefModel(d)
    prompts = [list(map(int, rng.integers(0, 250, n))) for n in (5, 17)]
    stop = {STOP, 253}
    fx = {"source": "reference/make_fixtures.py (float64 numpy)", "model": name,
          "mask_token_id": MASK, "stop_ids": sorted(stop), "prompts": [{"ids": p} for p in prompts],
          "logprobs": [], "ar": [], "wedlm": []}
    margins = {}
    for p in prompts:
        fx["logprobs"].append({"ids": p, "next_logprob": next_logprobs(m, p)})
        fx["ar"].append(ar_generate(m, p, 24, stop, margins))
    if c["model_type"] != "qwen2":
        for window in (16, 8):
            th, traces = pick_threshold(m, prompts, stop, window)
            fx["wedlm"] += traces
        fx["wedlm"] += [wedlm_generate(m, p, 24, stop, 4, None, 0.02, margins) for p in prompts]
    fx["margins"] = margins
    if not safe(margins):
        return None
    json.dump(fx, open(os.path.join(out, name + ".json"), "w"))
    return fx


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(20261122)
    for name in VARIANTS:
        fx = None
        while fx is None:  # a draw with a near-tie decision is replaced by the next one
            try:
                fx = make(name, args.out, rng)
            except RuntimeError:
                fx = None
        fills = sum(len(s["fill"]) for w in fx["wedlm"] for s in w["steps"])
        print(f"{name}: {len(fx['ar'])} AR, {len(fx['wedlm'])} WeDLM traces ({fills} fills)")


if __name__ == "__main__":
    main()
