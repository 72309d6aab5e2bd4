"""Live differential test: thousands of fresh random strings through @huggingface/tokenizers and
`wedlm tokenize --jsonl`; skipped with a message when node, the npm packages (scripts/test.sh
runs `npm ci` in tests/oracle) or the C++ build are missing."""

import json
import os
import shutil
import subprocess

import pytest

import conftest

ORACLE = os.path.join(conftest.ROOT, "tests", "oracle")
WEDLM = os.path.join(conftest.ROOT, "build", "src", "tools", "wedlm")
MISSING = [what for what, ok in (
    ("node", shutil.which("node")),
    ("tests/oracle/node_modules (npm ci)", os.path.isdir(os.path.join(ORACLE, "node_modules",
                                                                      "@lenml"))),
    ("the C++ build", os.path.exists(WEDLM)),
    ("../shared/fixtures", os.path.isdir(os.path.join(conftest.SHARED, "fixtures")))) if not ok]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"missing {', '.join(MISSING)}: "
                                                       "live tokenizer differential test skipped")


QWEN2_5 = os.path.join(ORACLE, "node_modules", "@lenml", "tokenizer-qwen2_5", "models")


def variant_dir(tmp_path, name):
    """The bundled tokenizer.json patched as tests/data/tokenizer_variants.json says."""
    v = json.load(open(os.path.join(conftest.ROOT, "tests", "data",
                                    "tokenizer_variants.json")))["variants"][name]
    tok = json.load(open(os.path.join(conftest.MODEL, "tokenizer.json")))
    tok.update(v["set"])
    tok["added_tokens"] += v["added_tokens"]
    d = tmp_path / name
    d.mkdir()
    (d / "tokenizer.json").write_text(json.dumps(tok))
    return str(d)


@pytest.mark.parametrize("name,model_dir", [
    ("qwen3", os.path.join(conftest.SHARED, "fixtures", "tiny-qwen3")),
    ("qwen2_5", QWEN2_5),
    ("wedlm-tiny", conftest.MODEL),
    ("added-flags", None),
    ("bytelevel-regex", None)])
def test_thousands_of_random_strings_match_the_oracle(tmp_path, name, model_dir):
    golden = tmp_path / "golden.json"
    subprocess.run(["node", os.path.join(ORACLE, "encode_golden.mjs"), str(golden), "3000",
                    "7"], check=True, capture_output=True, timeout=300)
    cases = json.load(open(golden))["tokenizers"][name]
    model_dir = model_dir or variant_dir(tmp_path, name)
    lines = "".join(json.dumps({"text": c["text"]}) + "\n" for c in cases)
    r = subprocess.run([WEDLM, "tokenize", "-m", model_dir, "--jsonl"], input=lines,
                       capture_output=True, text=True, timeout=300, check=True)
    got = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(got) == len(cases)
    bad = [(c["text"], g, c["ids"]) for c, g in zip(cases, got) if g.get("ids") != c["ids"]]
    assert not bad, f"{len(bad)} of {len(cases)} differ, e.g. {bad[:3]!r}"
