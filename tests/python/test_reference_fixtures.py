"""External parity of the float64 reference against Hugging Face transformers fixtures."""

import json
import os

import pytest

import conftest
from decode_np import ar_generate, next_logprobs, wedlm_generate
from model_np import RefModel

FIXTURE = os.path.join(conftest.SHARED, "fixtures", "hf_golden_tiny_qwen3.json")
pytestmark = pytest.mark.skipif(not os.path.exists(FIXTURE),
                                reason=f"{FIXTURE} absent: external parity skipped")


@pytest.fixture(scope="module")
def golden():
    return json.load(open(FIXTURE))


@pytest.fixture(scope="module")
def model():
    return RefModel(os.path.join(conftest.SHARED, "fixtures", "tiny-qwen3"))


def test_next_logprobs_within_1e4(golden, model):
    for case in golden["logprobs"]:
        got = next_logprobs(model, case["ids"])
        assert max(abs(a - b) for a, b in zip(got, case["next_logprob"])) < 1e-4


def test_ar_traces_exact(golden, model):
    for case in golden["ar"]:
        got = ar_generate(model, case["prompt"], case["max_tokens"], set(golden["stop_ids"]))
        assert got["output"] == case["output"]


def test_wedlm_traces_exact(golden, model):
    for case in golden["wedlm"]:
        got = wedlm_generate(model, case["prompt"], case["max_tokens"], set(golden["stop_ids"]),
                             case["window"], case["threshold"], case["penalty"])
        assert got["steps"] == case["steps"]
        assert got["output"] == case["output"] and got["forwards"] == case["forwards"]
