"""Tokenised training set and the held-out evaluation set, built from `datagen`.

The evaluation set is the first `per_family` examples of each family in the stream of
`EVAL_SEED`; the training set is examples 0..N-1 of the stream `TRAIN_SEED` with every example
whose prompt is in the evaluation set removed, so that no held-out question is seen in training.
"""

import random
from multiprocessing import Pool

import numpy as np

import bpe
import chatml
import datagen

TRAIN_SEED, EVAL_SEED = 1, 2
BUCKETS = (64, 128, 192, 304)  # padded lengths; every example fits in the last


def eval_set(per_family=30, seed=EVAL_SEED):
    want = {f: per_family for f in datagen.FAMILIES}
    out, i = [], 0
    while any(want.values()):
        e = datagen.make_example(seed, i)
        i += 1
        if want[e["family"]] > 0:
            want[e["family"]] -= 1
            out.append(e)
    return out


_worker = {}


def _init(tok_path, exclude, n_im_end):
    _worker["tok"] = bpe.ByteLevelBPE.load(tok_path)
    _worker["exclude"] = exclude
    _worker["n_im_end"] = n_im_end


def _encode_range(args):
    start, stop = args
    tok, exclude = _worker["tok"], _worker["exclude"]
    rows = []
    for i in range(start, stop):
        e = datagen.make_example(TRAIN_SEED, i)
        if datagen.prompt_key(e) in exclude:
            continue
        ids, lab = chatml.training_ids(tok, e["messages"], _worker["n_im_end"])
        rows.append((np.array(ids, np.int32), np.array(lab, np.bool_)))
    return rows


def build_train_set(tok_path, n_examples, exclude, n_im_end, workers=8, chunk=5000):
    """Returns a list of (ids, labels) numpy pairs, in stream order. `n_im_end`: trained
    `<|im_end|>` tokens closing the last reply (1 = just the real one)."""
    ranges = [(s, min(s + chunk, n_examples)) for s in range(0, n_examples, chunk)]
    with Pool(workers, initializer=_init, initargs=(tok_path, exclude, n_im_end)) as pool:
        parts = pool.map(_encode_range, ranges)
    return [r for part in parts for r in part]


class BucketBatcher:
    """Endless shuffled batches; each batch is padded to one bucket length and holds about
    `tokens_per_batch` tokens (so short examples come in larger batches)."""

    def __init__(self, rows, tokens_per_batch, pad_id, seed=0):
        self.pad_id, self.rng = pad_id, random.Random(seed)
        self.buckets = {L: [] for L in BUCKETS}
        for ids, lab in rows:
            L = next(b for b in BUCKETS if len(ids) <= b)
            self.buckets[L].append((ids, lab))
        self.batch_size = {L: max(1, tokens_per_batch // L) for L in BUCKETS}

    def epoch(self):
        plan = []
        for L, rows in self.buckets.items():
            idx = list(range(len(rows)))
            self.rng.shuffle(idx)
            bs = self.batch_size[L]
            plan += [(L, idx[s:s + bs]) for s in range(0, len(idx), bs)]
        self.rng.shuffle(plan)
        for L, idx in plan:
            yield self._pad(L, [self.buckets[L][i] for i in idx])

    def _pad(self, L, rows):
        ids = np.full((len(rows), L), self.pad_id, np.int64)
        lab = np.zeros((len(rows), L), np.bool_)
        for r, (x, y) in enumerate(rows):
            ids[r, :len(x)] = x
            lab[r, :len(y)] = y
        return ids, lab

    def __iter__(self):
        while True:
            yield from self.epoch()
