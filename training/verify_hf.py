"""Check a tokenizer.json written by bpe.py against Hugging Face `tokenizers` (GPU machine).

    python3 verify_hf.py tokenizer.json

Encodes the held-out set, a slice of the training stream and awkward strings (whitespace runs,
CRLF, tabs, contractions, accents, emoji, special tokens in text) with both and exits non-zero on
the first difference.
"""

import sys

from tokenizers import Tokenizer

import bpe
import chatml
import dataset
import datagen

AWKWARD = ["", " ", "  \n\n\t x", "a\r\nb", "I'm don't YOU'LL", "café naïve e\u0301", "日本語 text",
           "😀👍🏽 👨‍👩‍👧", "<|im_start|>user\nhi<|im_end|>", "<|im_end|x", "<|mask|><|mask|>",
           "1234567890", "x  y   z", "tab\there", "end \n", "¿Qué?", "\u00a0nbsp"]


def main():
    ours = bpe.ByteLevelBPE.load(sys.argv[1])
    hf = Tokenizer.from_file(sys.argv[1])
    texts = list(AWKWARD)
    for e in dataset.eval_set(30) + [datagen.make_example(1, i) for i in range(3000)]:
        texts.append(chatml.render_text(e["messages"], add_generation_prompt=False))
    for t in texts:
        a, b = ours.encode(t), hf.encode(t, add_special_tokens=False).ids
        if a != b:
            sys.exit(f"MISMATCH on {t!r}:\n ours {a}\n hf   {b}")
        if hf.decode(b, skip_special_tokens=False) != ours.decode(a):
            sys.exit(f"DECODE MISMATCH on {t!r}")
    print(f"tokenizer matches HF tokenizers on {len(texts)} texts")


if __name__ == "__main__":
    main()
