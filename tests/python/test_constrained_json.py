"""The bundled model's JSON family under a response_format schema (bench/constrained_json.py):
every constrained reply is the asked object, the answers stay as good as unconstrained, and
WeDLM keeps its parallelism (tokens per forward are counts, not timings)."""

import os
import sys

import pytest

import conftest

sys.path.insert(0, os.path.join(conftest.ROOT, "bench"))
import constrained_json  # noqa: E402

WEDLM = os.path.join(conftest.ROOT, "build", "src", "tools", "wedlm")


@pytest.mark.skipif(not os.path.exists(WEDLM), reason="no wedlm binary (build first)")
def test_json_family_under_a_schema():
    res = constrained_json.run(WEDLM)
    for mode in ("wedlm", "ar"):
        free, schema = res[f"{mode} free"], res[f"{mode} schema"]
        assert schema["valid"] == schema["prompts"] == 30
        assert schema["exact"] >= free["exact"] >= 27
    assert res["wedlm schema"]["tokens_per_forward"] >= 0.9 * res["wedlm free"]["tokens_per_forward"]
    assert res["wedlm schema"]["tokens_per_forward"] > 3
