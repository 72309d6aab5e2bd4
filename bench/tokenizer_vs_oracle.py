#!/usr/bin/env python3
"""Tokenizer speed: `wedlm tokenize --jsonl --timing` against @huggingface/tokenizers (node) on the
same corpus, in one run, alternating the two; prints each run and the ratio of the medians.

The corpus is deterministic: this repository's sources and docs, ../shared/docs, the multi-script
golden texts, then GCC 12's libstdc++ headers (sorted) until --chars characters, cut into lines of
2,000 characters. Run from the repository root after `npm ci` in tests/oracle:

  /usr/bin/python3 bench/tokenizer_vs_oracle.py -m ../shared/fixtures/tiny-qwen3 --runs 3
"""
import argparse
import json
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def corpus_files():
    pats = ["src/**/*.h", "src/**/*.cpp", "training/*.py", "reference/*.py", "docs/*.md", "README.md"]
    for p in pats:
        yield from sorted(ROOT.glob(p))
    yield from sorted((ROOT.parent / "shared" / "docs").glob("*.md"))
    yield from sorted(pathlib.Path("/usr/include/c++/12/bits").glob("*"))


def build_corpus(chars):
    golden = json.loads((ROOT / "tests/data/tokenizer_golden.json").read_text())
    texts = [c["text"] for c in golden["tokenizers"]["qwen3"]]
    parts, n = ["".join(texts)], sum(map(len, texts))
    for f in corpus_files():
        if n >= chars:
            break
        try:
            t = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        parts.append(t)
        n += len(t)
    text = "".join(parts)[:chars]
    return [text[i:i + 2000] for i in range(0, len(text), 2000)]


def run_ours(binary, model, path):
    with open(path) as stdin:
        r = subprocess.run([binary, "tokenize", "-m", model, "--jsonl", "--timing"], stdin=stdin,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    m = re.search(r"load ([\d.]+) ms, encode ([\d.]+) ms", r.stderr)
    return float(m.group(1)), float(m.group(2))


def run_oracle(model, path):
    r = subprocess.run(["node", "bench_tokenize.mjs", str(pathlib.Path(model).resolve()), str(path)],
                       cwd=ROOT / "tests/oracle", capture_output=True, text=True, check=True)
    m = re.search(r"load ([\d.]+) ms, encode ([\d.]+) ms", r.stdout)
    return float(m.group(1)), float(m.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default=str(ROOT.parent / "shared/fixtures/tiny-qwen3"))
    ap.add_argument("--binary", default=str(ROOT / "build/src/tools/wedlm"))
    ap.add_argument("--chars", type=int, default=3_000_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    lines = build_corpus(a.chars)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for line in lines:
            f.write(json.dumps({"text": line}) + "\n")
    print(f"corpus: {sum(map(len, lines))} characters, {len(lines)} lines")
    ours, oracle = [], []
    for i in range(a.runs):
        ours.append(run_ours(a.binary, a.model, f.name))
        oracle.append(run_oracle(a.model, f.name))
        print(f"run {i + 1}: ours load {ours[-1][0]:.0f} ms encode {ours[-1][1]:.0f} ms | "
              f"oracle load {oracle[-1][0]:.0f} ms encode {oracle[-1][1]:.0f} ms")
    mo, mr = statistics.median(e for _, e in ours), statistics.median(e for _, e in oracle)
    print(f"median encode: ours {mo:.0f} ms, oracle {mr:.0f} ms, speedup {mr / mo:.2f}x")
    pathlib.Path(f.name).unlink()


if __name__ == "__main__":
    sys.exit(main())
