#!/usr/bin/env python3
"""Write a random-weight checkpoint of a real model shape, for timing without real weights.

    /usr/bin/python3 bench/make_random_checkpoint.py --shape qwen3-0.6b --out /tmp/qwen3-0.6b

Shapes: qwen3-tiny (2 layers, hidden 64, 4/2 heads x 16, FFN 128, vocab 151936, tied: Qwen3's
vocabulary on a model small enough for tests), qwen3-0.6b (28 layers, hidden 1024, 16/8 heads x 128, FFN 3072, vocab 151936, tied),
wedlm-8b (36 layers, hidden 4096, 32/8 x 128, FFN 12288, vocab 151936, untied). BF16 weights,
model_type wedlm, mask 151665. Text from such a model is noise; its speed is the real shape's.
--tokenizer DIR copies DIR's tokenizer.json and tokenizer_config.json beside it (a servable model).
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from make_fixtures import write_safetensors  # noqa: E402

SHAPES = {
    "qwen3-0.6b": dict(num_hidden_layers=28, hidden_size=1024, num_attention_heads=16,
                       num_key_value_heads=8, head_dim=128, intermediate_size=3072,
                       tie_word_embeddings=True),
    "qwen3-tiny": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=16, intermediate_size=128,
                       tie_word_embeddings=True),
    "wedlm-8b": dict(num_hidden_layers=36, hidden_size=4096, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=128, intermediate_size=12288,
                     tie_word_embeddings=False),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", help="a directory with tokenizer.json, tokenizer_config.json")
    args = ap.parse_args()
    s = SHAPES[args.shape]
    cfg = {"architectures": ["WeDLMForCausalLM"], "model_type": "wedlm", "vocab_size": 151936,
           "rms_norm_eps": 1e-6, "rope_theta": 1e6, "max_position_embeddings": 4096,
           "attention_bias": False, "qk_norm": True, "mask_token_id": 151665,
           "eos_token_id": 151645, "hidden_act": "silu", **s}
    os.makedirs(args.out, exist_ok=True)
    json.dump(cfg, open(os.path.join(args.out, "config.json"), "w"), indent=1)
    rng = np.random.default_rng(0)
    H, F, D = s["hidden_size"], s["intermediate_size"], s["head_dim"]
    q, kv = s["num_attention_heads"] * D, s["num_key_value_heads"] * D
    mat = lambda r, c: (rng.standard_normal((r, c), dtype=np.float32) / np.sqrt(c))
    t = {"model.embed_tokens.weight": mat(151936, H), "model.norm.weight": np.ones(H, np.float32)}
    if not s["tie_word_embeddings"]:
        t["lm_head.weight"] = mat(151936, H)
    for i in range(s["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t.update({p + "input_layernorm.weight": np.ones(H, np.float32),
                  p + "post_attention_layernorm.weight": np.ones(H, np.float32),
                  p + "self_attn.q_norm.weight": np.ones(D, np.float32),
                  p + "self_attn.k_norm.weight": np.ones(D, np.float32),
                  p + "self_attn.q_proj.weight": mat(q, H), p + "self_attn.k_proj.weight": mat(kv, H),
                  p + "self_attn.v_proj.weight": mat(kv, H), p + "self_attn.o_proj.weight": mat(H, q),
                  p + "mlp.gate_proj.weight": mat(F, H), p + "mlp.up_proj.weight": mat(F, H),
                  p + "mlp.down_proj.weight": mat(H, F)})
    write_safetensors(os.path.join(args.out, "model.safetensors"), t, "BF16")
    for name in ("tokenizer.json", "tokenizer_config.json") if args.tokenizer else ():
        shutil.copyfile(os.path.join(args.tokenizer, name), os.path.join(args.out, name))
    print(f"wrote {args.out}: {sum(v.size for v in t.values()) / 1e6:.0f}M parameters")


if __name__ == "__main__":
    main()
