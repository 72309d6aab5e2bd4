"""The v2 held-out set (tests/data/heldout_v2_wedlm_tiny.jsonl): what make_heldout.py --stream 2
writes, and its prompt ids exactly what the engine makes of the same messages and tools through
the v2 chat template and tokenizer (so that the model v2 is trained and served on one format)."""

import json
import os
import shutil
import subprocess
import sys
import urllib.request

import pytest

import bpe
import chatml_qwen3 as q3
import conftest
from test_cli import WEDLM, pytestmark as needs_build

HELDOUT_V2 = os.path.join(conftest.ROOT, "tests", "data", "heldout_v2_wedlm_tiny.jsonl")


def rows():
    with open(HELDOUT_V2) as f:
        return [json.loads(line) for line in f]


def test_the_file_is_what_make_heldout_writes(tmp_path):
    out = tmp_path / "h.jsonl"
    subprocess.run([sys.executable, os.path.join(conftest.ROOT, "training", "make_heldout.py"),
                    "--stream", "2", "--tokenizer", conftest.TOKENIZER, "--out", str(out)],
                   check=True, timeout=120, cwd=os.path.join(conftest.ROOT, "training"))
    assert out.read_text() == open(HELDOUT_V2).read()
    held = rows()
    assert len(held) == 60 and {r["family"] for r in held} == {"tools", "schema"}
    assert sum(r["check"] == "tool_calls" for r in held) >= 5
    assert sum(2014 in r["prompt_ids"] for r in held) >= 10  # round trips: <tool_call> a token


def v2_model_dir(tmp_path):
    """The bundled weights with the v2 tokenizer and chat template (the format, not a v2 model)."""
    model = tmp_path / "model"
    shutil.copytree(conftest.MODEL, model)
    q3.tokenizer_v2(bpe.ByteLevelBPE.load(conftest.TOKENIZER)).save(model / "tokenizer.json")
    cfg = json.loads((model / "tokenizer_config.json").read_text())
    cfg["chat_template"] = q3.QWEN3_TEMPLATE
    (model / "tokenizer_config.json").write_text(json.dumps(cfg))
    return model


@needs_build
def test_the_engine_makes_the_same_prompt_ids(tmp_path):
    from router_cluster import Replica
    replica = Replica(args=["-m", str(v2_model_dir(tmp_path))])
    try:
        for r in rows():
            body = {"messages": r["messages"][:-1]}
            if r.get("tools"):
                body["tools"] = r["tools"]
            req = urllib.request.Request(replica.url + "/tokenize", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
            got = json.load(urllib.request.urlopen(req, timeout=30))["tokens"]
            assert got == r["prompt_ids"], r["messages"]
    finally:
        replica.stop()


@needs_build
def test_the_sdk_round_trip_harness_sends_every_tools_row(tmp_path):
    """bench/tools_roundtrip.mjs against a server on the v2 format (the first model's weights, so
    the replies are wrong): every row is sent as an agent sends it and accepted, and judged."""
    node = shutil.which("node")
    sdk = os.path.join(conftest.ROOT, "tests", "server", "node_modules", "openai")
    if not node or not os.path.isdir(sdk):
        pytest.skip("node or the openai SDK (npm ci in tests/server) absent")
    from router_cluster import Replica
    replica = Replica(args=["-m", str(v2_model_dir(tmp_path))])
    try:
        out = tmp_path / "rt.json"
        r = subprocess.run([node, os.path.join(conftest.ROOT, "bench", "tools_roundtrip.mjs"),
                            "--base-url", replica.url + "/v1", "--json", str(out)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    finally:
        replica.stop()
    report = json.loads(out.read_text())
    tools_rows = [x for x in rows() if x["family"] == "tools"]
    assert report["all"]["n"] == len(tools_rows) == 30
    kinds = {}
    for x in tools_rows:  # the harness's own classification, from the file
        kind = ("parallel calls" if len(x["answer"]) > 1 else "call") \
            if x["check"] == "tool_calls" else \
            "round trip" if any(m["role"] == "tool" for m in x["messages"]) else "plain"
        kinds[kind] = kinds.get(kind, 0) + 1
    assert {k: t["n"] for k, t in report["tally"].items()} == kinds
    assert set(kinds) == {"call", "parallel calls", "round trip", "plain"}
    assert "all tools rows:" in r.stdout and "tool_choice auto" in r.stdout
