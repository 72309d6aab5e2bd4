"""Held-out evaluation of a trained PyTorch model with the reference decoders.

The decoding rules are the float64 reference's (reference/decode_np.py: Tencent-engine WeDLM
semantics and AR), driven through an adapter that runs the PyTorch model (fp32) on the GPU.

    python3 evaluate.py --model DIR [--per-family 30] [--json report.json]
"""

import argparse
import json
import os
import struct
import sys
import time
from types import SimpleNamespace

import torch

import bpe
import chatml
import chatml_qwen3
import dataset
import datagen
import datagen_v2
from model import Config, WeDLMModel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from decode_np import ar_generate, wedlm_generate  # noqa: E402


def _causal(T, device):
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()[None, None]


class TorchSequenceModel:
    """The reference decoders' model interface (reference/model_np.py) over a PyTorch model.

    The "cache" keeps each slot's token and position; a forward recomputes slots 0..start+T in
    physical order under the causal mask. That equals the cached computation: slots below `start`
    are committed and never rewritten, and the decoders rewrite slots start.. on every step."""

    def __init__(self, model, mask_id):
        self.model = model
        self.cfg = SimpleNamespace(mask_id=mask_id)

    def new_cache(self, capacity):
        return {"ids": [0] * capacity, "pos": [0] * capacity}

    @torch.no_grad()
    def forward(self, ids, pos, cache, start, logit_rows=None):
        T = len(ids)
        cache["ids"][start:start + T] = list(ids)
        cache["pos"][start:start + T] = list(pos)
        dev = self.model.lm_head.weight.device
        x = torch.tensor([cache["ids"][:start + T]], device=dev)
        p = torch.tensor([cache["pos"][:start + T]], device=dev)
        logits = self.model.logits(x, p, _causal(start + T, dev))[0, start:]
        rows = list(range(T)) if logit_rows is None else list(logit_rows)
        return logits[rows].double().cpu().numpy()


def run_eval(model, tok, examples, max_tokens=320, log=print):
    stop = {tok.specials[chatml.IM_END], tok.specials[chatml.ENDOFTEXT]}
    mask_id = tok.specials[chatml.MASK]
    rows = []
    seq_model = TorchSequenceModel(model, mask_id)
    decoders = {"wedlm": lambda p: wedlm_generate(seq_model, p, max_tokens, stop),
                "ar": lambda p: ar_generate(seq_model, p, max_tokens, stop)}
    for e in examples:
        # the v2 format; without tools it is the first model's ChatML, token for token
        prompt = chatml_qwen3.prompt_ids(tok, e["messages"][:-1], e.get("tools"))
        r = {"family": e["family"]}
        for mode, decode in decoders.items():
            t0 = time.time()
            g = decode(prompt)
            out, fw = g["output"], g["forwards"]
            text = tok.decode(out, skip_special=True)
            r[mode] = {"ok": datagen.reply_is_correct(e, text), "tokens": len(out),
                       "forwards": fw, "s": time.time() - t0, "text": text}
        rows.append(r)
    return summarize(rows, log), rows


def summarize(rows, log=print):
    fams = sorted({r["family"] for r in rows}) + ["ALL"]
    table = {}
    log(f"{'family':10s} {'n':>4s} {'wedlm acc':>9s} {'ar acc':>7s} {'tok/fwd':>7s}")
    for f in fams:
        rs = [r for r in rows if f in ("ALL", r["family"])]
        acc_w = sum(r["wedlm"]["ok"] for r in rs) / len(rs)
        acc_a = sum(r["ar"]["ok"] for r in rs) / len(rs)
        tpf = sum(r["wedlm"]["tokens"] for r in rs) / sum(r["wedlm"]["forwards"] for r in rs)
        table[f] = {"n": len(rs), "wedlm_acc": acc_w, "ar_acc": acc_a, "tokens_per_forward": tpf}
        log(f"{f:10s} {len(rs):4d} {acc_w:9.3f} {acc_a:7.3f} {tpf:7.2f}")
    return table


def load_hf(model_dir, device="cpu"):
    """Load an exported directory (single model.safetensors) into a WeDLMModel, in fp32."""
    cfg_j = json.load(open(f"{model_dir}/config.json"))
    cfg = Config(**{k: cfg_j[k] for k in Config().to_dict()})
    model = WeDLMModel(cfg)
    blob = open(f"{model_dir}/model.safetensors", "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    state = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        raw = bytearray(blob[base + a:base + b])
        assert meta["dtype"] == "BF16", meta["dtype"]
        t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        state[name] = t.reshape(meta["shape"]).float()
    model.load_state_dict(state)
    return model.to(device).eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--per-family", type=int, default=30)
    ap.add_argument("--json")
    ap.add_argument("--stream", type=int, default=1, choices=(1, 2),
                    help="2: the v2 families (datagen_v2.eval_set_v2) too")
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_hf(args.model, dev)
    tok = bpe.ByteLevelBPE.load(f"{args.model}/tokenizer.json")
    examples = dataset.eval_set(args.per_family)
    if args.stream == 2:
        examples += datagen_v2.eval_set_v2(args.per_family)
    table, rows = run_eval(model, tok, examples)
    if args.json:
        json.dump({"table": table, "rows": rows}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
