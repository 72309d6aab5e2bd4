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
import chatml_qwen3
import datagen
import datagen_v2

TRAIN_SEED, EVAL_SEED = 1, 2
BUCKETS = (64, 128, 192, 304)  # padded lengths; every example fits in the last
# the second stream (v2): counts of up to 200 numbers take ~950 tokens
BUCKETS_V2 = BUCKETS + (512, 768, 1024)


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


def _init(tok_path, exclude, n_im_end, stream):
    _worker["tok"] = bpe.ByteLevelBPE.load(tok_path)
    _worker["exclude"] = exclude
    _worker["n_im_end"] = n_im_end
    _worker["stream"] = stream


def encode_example(tok, e, n_im_end, stream):
    """(ids, labels) of one example: stream 1 in ChatML, stream 2 in the v2 format (its tools)."""
    if stream == 2:
        return chatml_qwen3.training_ids(tok, e["messages"], e.get("tools"), n_im_end)
    return chatml.training_ids(tok, e["messages"], n_im_end)


def _encode_range(args):
    start, stop = args
    tok, exclude, stream = _worker["tok"], _worker["exclude"], _worker["stream"]
    make = datagen_v2.make_example_v2 if stream == 2 else datagen.make_example
    rows = []
    for i in range(start, stop):
        e = make(TRAIN_SEED, i)
        if held_out_key(e, stream) in exclude:
            continue
        ids, lab = encode_example(tok, e, _worker["n_im_end"], stream)
        rows.append((np.array(ids, np.int32), np.array(lab, np.bool_)))
    return rows


def held_out_key(e, stream):
    """Stream 1: the whole prompt (datagen.prompt_key); stream 2: the user turns' text
    (datagen_v2.question_key), which also catches a held-out question under another system
    prompt or inside a longer conversation."""
    return datagen_v2.question_key(e) if stream == 2 else datagen.prompt_key(e)


def held_out_keys(stream=1):
    """The keys training must leave out: the first stream's held-out set, and with the second
    stream its own (datagen_v2.eval_set_v2) too."""
    held = eval_set(30) + (datagen_v2.eval_set_v2(30) if stream == 2 else [])
    return {held_out_key(e, stream) for e in held}


def build_train_set(tok_path, n_examples, exclude, n_im_end, workers=8, chunk=5000, stream=1):
    """Returns a list of (ids, labels) numpy pairs, in stream order. `n_im_end`: trained
    `<|im_end|>` tokens closing the last reply (1 = just the real one). `stream` 2: examples of
    datagen_v2 (seed TRAIN_SEED of that stream), `tok_path` the v2 tokenizer."""
    ranges = [(s, min(s + chunk, n_examples)) for s in range(0, n_examples, chunk)]
    with Pool(workers, initializer=_init, initargs=(tok_path, exclude, n_im_end, stream)) as pool:
        parts = pool.map(_encode_range, ranges)
    return [r for part in parts for r in part]


class BucketBatcher:
    """Endless shuffled batches; each batch is padded to one bucket length and holds about
    `tokens_per_batch` tokens (so short examples come in larger batches)."""

    def __init__(self, rows, tokens_per_batch, pad_id, seed=0, buckets=BUCKETS):
        self.pad_id, self.rng = pad_id, random.Random(seed)
        self.buckets = {L: [] for L in buckets}
        for ids, lab in rows:
            L = next(b for b in buckets if len(ids) <= b)
            self.buckets[L].append((ids, lab))
        self.batch_size = {L: max(1, tokens_per_batch // L) for L in buckets}

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
