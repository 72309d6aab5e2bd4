"""Float64 reference of the Qwen2/Qwen3 (WeDLM) forward pass, written from wedlm-spec.md §1.1.

Obviously-correct over fast: plain numpy, one layer at a time, a contiguous KV cache indexed by
physical slot. `forward` writes the K/V of its rows at slots start..start+T-1 *before* attending
(spec §4, store-before-attend), and row r attends to slots [0, start + r]: the causal mask in
physical order on top of the cached prefix, with RoPE at the explicit positions given.
"""

import json
import os

import numpy as np

from safetensors_np import read_dir


class RefConfig:
    def __init__(self, j):
        self.model_type = j.get("model_type", "wedlm")
        self.vocab = j["vocab_size"]
        self.hidden = j["hidden_size"]
        self.n_layer = j["num_hidden_layers"]
        self.n_head = j["num_attention_heads"]
        self.n_kv = j.get("num_key_value_heads", self.n_head)
        self.head_dim = j.get("head_dim") or self.hidden // self.n_head
        self.eps = j.get("rms_norm_eps", 1e-6)
        self.theta = j.get("rope_theta", 10000.0)
        self.tied = j.get("tie_word_embeddings", False)
        default_bias = {"qwen2": True, "qwen3": False}.get(self.model_type, True)
        self.bias = j.get("attention_bias", default_bias)
        default_qk = {"qwen2": False, "qwen3": True}.get(self.model_type, not self.bias)
        self.qk_norm = j.get("qk_norm", default_qk)
        self.mask_id = j.get("mask_token_id", 151665)


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, pos, theta):
    """x: [T, H, D]; NeoX rotate-half over the full head_dim at positions pos [T]."""
    d = x.shape[-1]
    inv = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    ang = np.asarray(pos, np.float64)[:, None] * inv[None]          # [T, D/2]
    cos, sin = np.cos(ang)[:, None], np.sin(ang)[:, None]
    x1, x2 = x[..., :d // 2], x[..., d // 2:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


class RefModel:
    def __init__(self, model_dir):
        self.cfg = RefConfig(json.load(open(os.path.join(model_dir, "config.json"))))
        self.w = read_dir(model_dir)
        if self.cfg.tied:
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]

    def new_cache(self, capacity):
        c = self.cfg
        shape = (c.n_layer, capacity, c.n_kv, c.head_dim)
        return {"k": np.zeros(shape), "v": np.zeros(shape)}

    def _attention(self, l, h, pos, cache, start):
        c, w = self.cfg, self.w
        p = f"model.layers.{l}.self_attn."
        T = h.shape[0]
        proj = lambda n: h @ w[p + n + ".weight"].T + (w[p + n + ".bias"] if c.bias else 0)
        q = proj("q_proj").reshape(T, c.n_head, c.head_dim)
        k = proj("k_proj").reshape(T, c.n_kv, c.head_dim)
        v = proj("v_proj").reshape(T, c.n_kv, c.head_dim)
        if c.qk_norm:
            q = rms_norm(q, w[p + "q_norm.weight"], c.eps)
            k = rms_norm(k, w[p + "k_norm.weight"], c.eps)
        q, k = rope(q, pos, c.theta), rope(k, pos, c.theta)
        cache["k"][l, start:start + T] = k          # store before attend, physical order
        cache["v"][l, start:start + T] = v
        K, V = cache["k"][l, :start + T], cache["v"][l, :start + T]   # [S, Hkv, D]
        group = c.n_head // c.n_kv
        visible = np.arange(start + T)[None, :] <= (start + np.arange(T))[:, None]  # [T, S]
        out = np.empty((T, c.n_head, c.head_dim))
        for hq in range(c.n_head):
            s = q[:, hq] @ K[:, hq // group].T / np.sqrt(c.head_dim)
            s = np.where(visible, s, -np.inf)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            out[:, hq] = (s / s.sum(axis=1, keepdims=True)) @ V[:, hq // group]
        return out.reshape(T, -1) @ w[p + "o_proj.weight"].T

    def _mlp(self, l, x):
        w, p = self.w, f"model.layers.{l}.mlp."
        g, u = x @ w[p + "gate_proj.weight"].T, x @ w[p + "up_proj.weight"].T
        return (g / (1 + np.exp(-g)) * u) @ w[p + "down_proj.weight"].T

    def forward(self, ids, pos, cache, start, logit_rows=None):
        """Runs rows `ids` at RoPE positions `pos`, KV slots start..; returns logits [R, vocab]
        for `logit_rows` (default: all rows)."""
        c, w = self.cfg, self.w
        h = w["model.embed_tokens.weight"][np.asarray(ids)]
        for l in range(c.n_layer):
            p = f"model.layers.{l}."
            h = h + self._attention(l, rms_norm(h, w[p + "input_layernorm.weight"], c.eps), pos,
                                    cache, start)
            h = h + self._mlp(l, rms_norm(h, w[p + "post_attention_layernorm.weight"], c.eps))
        rows = slice(None) if logit_rows is None else logit_rows
        h = rms_norm(h[rows], w["model.norm.weight"], c.eps)
        return h @ w["lm_head.weight"].T
