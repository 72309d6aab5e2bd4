"""Greedy AR and WeDLM decoding in PyTorch, and the held-out evaluation of a trained model.

Each decode step recomputes the whole sequence (committed prefix in logical order, then the
reordered window), which is mathematically the cached computation of spec §3.4 (spec §4). The
WeDLM rule is the Tencent engine's: refill before the forward, filled slots first, commit of the
leading filled run, entropy of the raw logits + penalty * distance < threshold (strict), argmin
fallback. The mask token is never chosen as a token.

    python3 evaluate.py --model DIR [--per-family 30] [--json report.json]
"""

import argparse
import json
import math
import struct
import time

import torch

import bpe
import chatml
import dataset
import datagen
from model import Config, WeDLMModel


def _causal(T, device):
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()[None, None]


@torch.no_grad()
def _logits(model, ids, pos):
    dev = model.lm_head.weight.device
    ids = torch.tensor([ids], device=dev)
    pos = torch.tensor([pos], device=dev)
    return model.logits(ids, pos, _causal(ids.shape[1], dev))[0]


def decode_ar(model, prompt, max_tokens, stop_ids, mask_id):
    out, forwards = [], 0
    while len(out) < max_tokens:
        seq = prompt + out
        row = _logits(model, seq, list(range(len(seq))))[-1]
        forwards += 1
        row[mask_id] = -math.inf
        t = int(row.argmax())
        out.append(t)
        if t in stop_ids:
            break
    return out, forwards


def _select(mlog, mask_idx, threshold, penalty, mask_id):
    """Greedy fill choice for one step: returns [(window index, token)]."""
    logp = torch.log_softmax(mlog, -1)
    ent = -(logp.exp() * logp).sum(-1)
    adj = ent + penalty * (torch.tensor(mask_idx, device=mlog.device) - mask_idx[0]).float()
    picked = mlog.clone()
    picked[:, mask_id] = -math.inf
    toks = picked.argmax(-1).tolist()
    chosen = [j for j in range(len(mask_idx)) if threshold is not None and adj[j] < threshold]
    if not chosen:
        chosen = [int(adj.argmin())]
    return [(mask_idx[j], toks[j]) for j in chosen]


def decode_wedlm(model, prompt, max_tokens, stop_ids, mask_id, window=16, threshold=0.4,
                 penalty=0.02):
    done, out, forwards = False, [], 0
    win = [None] * window  # None = mask
    while not done:
        n = next((k for k, t in enumerate(win) if t is None), len(win))
        win += [None] * n
        order = [k for k, t in enumerate(win) if t is not None] + \
                [k for k, t in enumerate(win) if t is None]
        L = len(prompt) + len(out)
        ids = prompt + out + [mask_id if win[k] is None else win[k] for k in order]
        pos = list(range(L)) + [L + k for k in order]
        logits = _logits(model, ids, pos)
        forwards += 1
        n_filled = sum(t is not None for t in win)
        for t in win[:n]:
            out.append(t)
            if t in stop_ids or len(out) >= max_tokens:
                done = True
                break
        win = win[n:]
        if done:
            break
        mask_idx = [k for k, t in enumerate(win) if t is None]
        mlog = logits[L + n_filled:].float()
        for k, t in _select(mlog, mask_idx, threshold, penalty, mask_id):
            win[k] = t
    return out, forwards


def run_eval(model, tok, examples, max_tokens=320, log=print):
    stop = {tok.specials[chatml.IM_END], tok.specials[chatml.ENDOFTEXT]}
    mask_id = tok.specials[chatml.MASK]
    rows = []
    for e in examples:
        prompt = chatml.prompt_ids(tok, e["messages"][:-1])
        r = {"family": e["family"]}
        for mode, fn in (("wedlm", decode_wedlm), ("ar", decode_ar)):
            t0 = time.time()
            out, fw = fn(model, prompt, max_tokens, stop, mask_id)
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
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_hf(args.model, dev)
    tok = bpe.ByteLevelBPE.load(f"{args.model}/tokenizer.json")
    table, rows = run_eval(model, tok, dataset.eval_set(args.per_family))
    if args.json:
        json.dump({"table": table, "rows": rows}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
