"""Print the ChatML prompt ids of a message for `wedlm generate --prompt-ids` (a bridge until the
C++ tokenizer lands): /usr/bin/python3 reference/chat_ids.py [-m DIR] [--system TEXT] TEXT"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))

import bpe  # noqa: E402
import chatml  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("text")
    ap.add_argument("-m", "--model", default=os.path.join(HERE, "..", "models", "wedlm-tiny"))
    ap.add_argument("--system")
    args = ap.parse_args()
    tok = bpe.ByteLevelBPE.load(os.path.join(args.model, "tokenizer.json"))
    msgs = ([{"role": "system", "content": args.system}] if args.system else []) + \
        [{"role": "user", "content": args.text}]
    print(",".join(map(str, chatml.prompt_ids(tok, msgs))))


if __name__ == "__main__":
    main()
