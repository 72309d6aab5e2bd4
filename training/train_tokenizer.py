"""Train the bundled model's byte-level BPE tokenizer on generated instruction data.

    python3 training/train_tokenizer.py --out tokenizer.json [--examples 20000] [--vocab 4096]

Deterministic: the corpus is examples 0..N-1 of the training stream (seed 1) rendered in ChatML
(the text between special markers), and merges break count ties by the smaller pair.
"""

import argparse
import time

import bpe
import chatml
import datagen


def corpus(n_examples, seed):
    for i in range(n_examples):
        msgs = datagen.make_example(seed, i)["messages"]
        for m in msgs:
            yield f"{m['role']}\n{m['content']}"
        yield "\n"
        yield "assistant\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--examples", type=int, default=20000)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.time()
    tok = bpe.ByteLevelBPE.train(corpus(args.examples, args.seed), args.vocab,
                                 chatml.SPECIAL_TOKENS)
    tok.save(args.out)
    print(f"tokenizer: {len(tok.vocab)} BPE entries ({len(tok.merges)} merges) + "
          f"{len(tok.specials)} specials, {time.time() - t0:.1f}s -> {args.out}")


if __name__ == "__main__":
    main()
