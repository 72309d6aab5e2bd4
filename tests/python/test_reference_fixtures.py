"""External parity of the float64 reference against Hugging Face transformers fixtures."""

import json
import os

import pytest

import conftest
from decode_np import ar_generate, next_logprobs, wedlm_generate
from model_np import RefModel

FIXTURE = os.path.join(conftest.SHARED, "fixtures", "hf_golden_tiny_qwen3.json")
needs_shared = pytest.mark.skipif(not os.path.exists(FIXTURE),
                                  reason=f"{FIXTURE} absent: external parity skipped")


@pytest.fixture(scope="module")
def golden():
    return json.load(open(FIXTURE))


@pytest.fixture(scope="module")
def model():
    return RefModel(os.path.join(conftest.SHARED, "fixtures", "tiny-qwen3"))


@needs_shared
def test_next_logprobs_within_1e4(golden, model):
    for case in golden["logprobs"]:
        got = next_logprobs(model, case["ids"])
        assert max(abs(a - b) for a, b in zip(got, case["next_logprob"])) < 1e-4


@needs_shared
def test_ar_traces_exact(golden, model):
    for case in golden["ar"]:
        got = ar_generate(model, case["prompt"], case["max_tokens"], set(golden["stop_ids"]))
        assert got["output"] == case["output"]


@needs_shared
def test_wedlm_traces_exact(golden, model):
    for case in golden["wedlm"]:
        got = wedlm_generate(model, case["prompt"], case["max_tokens"], set(golden["stop_ids"]),
                             case["window"], case["threshold"], case["penalty"])
        assert got["steps"] == case["steps"]
        assert got["output"] == case["output"] and got["forwards"] == case["forwards"]


def test_project_fixtures_are_reproducible(tmp_path):
    """tests/data/fixtures (tiny random checkpoints + traces) is exactly what make_fixtures.py
    writes, so the C++ parity test checks against the current reference, not a stale copy."""
    import filecmp
    import subprocess
    import sys
    subprocess.run([sys.executable, os.path.join(conftest.ROOT, "reference", "make_fixtures.py"),
                    "--out", str(tmp_path)], check=True, capture_output=True)
    committed = os.path.join(conftest.ROOT, "tests", "data", "fixtures")
    cmp = filecmp.dircmp(str(tmp_path), committed)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    for sub in cmp.common_dirs:
        d = cmp.subdirs[sub]
        assert not d.diff_files and not d.left_only and not d.right_only, sub
