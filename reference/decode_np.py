"""Float64 reference decoders over `RefModel`: greedy AR and greedy WeDLM (wedlm-spec.md §3.4).

WeDLM step, exactly as the Tencent engine: refill n masks (n = leading filled run) before the
forward; rows = filled slots (ascending) then masks (ascending), RoPE at L + slot, KV written at
slots L.. in row order; commit the leading filled run (a stop id ends generation and is kept;
max_tokens ends it); then for the remaining masks: entropy of softmax(raw logits) (natural log) +
penalty * (slot - first mask slot), fill all below threshold (strict), else the argmin; threshold
None = always one slot. The window is not shrunk near max_tokens. The mask id is never chosen as a
token (its logit is excluded from the argmax only; entropy uses the raw logits).

Returns dicts shaped like ../shared/fixtures/hf_golden_tiny_qwen3.json entries.
"""

import numpy as np


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def greedy_token(row, mask_id):
    row = row.copy()
    if 0 <= mask_id < row.shape[-1]:
        row[mask_id] = -np.inf
    return int(np.argmax(row))


def next_logprobs(model, ids):
    """next_logprob[t] = log softmax(logits[t])[ids[t+1]] of a plain causal pass."""
    cache = model.new_cache(len(ids))
    lp = log_softmax(model.forward(ids, list(range(len(ids))), cache, 0))
    return [float(lp[t, ids[t + 1]]) for t in range(len(ids) - 1)]


def ar_generate(model, prompt, max_tokens, stop_ids, margins=None):
    cache = model.new_cache(len(prompt) + max_tokens + 1)
    mask_id = model.cfg.mask_id
    logits = model.forward(prompt, list(range(len(prompt))), cache, 0, [len(prompt) - 1])
    out, forwards = [], 1
    while True:
        t = greedy_token(logits[0], mask_id)
        _note(margins, "logit", logit_gap(logits[0], mask_id))
        out.append(t)
        if t in stop_ids or len(out) >= max_tokens:
            break
        L = len(prompt) + len(out) - 1
        logits = model.forward([t], [L], cache, L)
        forwards += 1
    return {"prompt": list(prompt), "max_tokens": max_tokens, "output": out,
            "forwards": forwards}


def logit_gap(row, mask_id):
    """Distance between the best and second-best logit (mask excluded): a greedy decision's margin."""
    r = np.delete(row, mask_id) if 0 <= mask_id < row.shape[-1] else row
    top2 = np.partition(r, -2)[-2:]
    return float(top2[1] - top2[0])


def _note(margins, key, value):
    if margins is not None:
        margins[key] = min(margins.get(key, np.inf), value)


def select_fills(mask_logits, mask_idx, threshold, penalty, mask_id, margins=None):
    """One step's fill decision: [(window slot, token)] for the chosen masks. `margins`, if given,
    collects the smallest distances that a float32 engine could cross: adjusted entropy to the
    threshold (or between the two smallest, for the argmin) and chosen logit to the runner-up."""
    lp = log_softmax(mask_logits)
    ent = -(np.exp(lp) * lp).sum(axis=-1)
    adj = ent + penalty * (np.asarray(mask_idx, np.float64) - mask_idx[0])
    chosen = [] if threshold is None else [j for j in range(len(mask_idx)) if adj[j] < threshold]
    if threshold is not None:
        _note(margins, "threshold", float(np.min(np.abs(adj - threshold))))
    if not chosen:
        chosen = [int(np.argmin(adj))]
        if len(adj) > 1:
            _note(margins, "argmin", float(np.diff(np.sort(adj)[:2])[0]))
    for j in chosen:
        _note(margins, "logit", logit_gap(mask_logits[j], mask_id))
    return [(mask_idx[j], greedy_token(mask_logits[j], mask_id)) for j in chosen]


def wedlm_generate(model, prompt, max_tokens, stop_ids, window=16, threshold=0.4,
                   penalty=0.02, margins=None):
    mask_id = model.cfg.mask_id
    cache = model.new_cache(len(prompt) + max_tokens + 2 * window + 1)
    model.forward(prompt, list(range(len(prompt))), cache, 0, [])   # prefill; logits unused
    L, out, steps, done = len(prompt), [], [], False
    win = [None] * window                                            # None = mask
    while not done:
        n = next((k for k, t in enumerate(win) if t is None), len(win))
        win += [None] * n
        order = [k for k, t in enumerate(win) if t is not None] + \
                [k for k, t in enumerate(win) if t is None]
        n_filled = len(win) - win.count(None)
        ids = [mask_id if win[k] is None else win[k] for k in order]
        logits = model.forward(ids, [L + k for k in order], cache, L,
                               list(range(n_filled, len(win))))
        step = {"commit": 0, "fill": []}
        steps.append(step)
        for t in win[:n]:
            out.append(t)
            L += 1
            step["commit"] += 1
            if t in stop_ids or len(out) >= max_tokens:
                done = True
                break
        win = win[n:]
        if done:
            break
        mask_idx = [k for k, t in enumerate(win) if t is None]
        for k, t in select_fills(logits, mask_idx, threshold, penalty, mask_id, margins):
            win[k] = t
            step["fill"].append([k, t])
    return {"prompt": list(prompt), "window": window, "threshold": threshold, "penalty": penalty,
            "max_tokens": max_tokens, "output": out, "forwards": len(steps), "steps": steps}
