"""`wedlm bench` as a user runs it: tables of real runs on the bundled model and on random
weights of a real shape (needs the C++ build)."""

import json
import os
import struct

import pytest

import conftest

from test_cli import WEDLM, pytestmark, run  # noqa: F401  (skips without the build)


def safetensors_params(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return sum(math_prod(t["shape"]) for k, t in header.items() if k != "__metadata__")


def math_prod(shape):
    out = 1
    for d in shape:
        out *= d
    return out


BUNDLED_PARAMS = safetensors_params(os.path.join(conftest.ROOT, "models", "wedlm-tiny",
                                                 "model.safetensors"))


def bench_json(*args):
    r = run("bench", "-o", "json", "-r", "2", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_sweeps_give_one_row_per_setting_with_real_figures():
    out = bench_json("-p", "32", "-n", "16", "--mode", "wedlm,ar", "--window", "8,16")
    assert out["model"] == "wedlm-tiny" and out["dtype"] == "BF16" and out["params"] == BUNDLED_PARAMS
    assert out["build_commit"] and out["cpu"] and out["repetitions"] == 2
    rows = [(r["mode"], r["window"], r["test"]) for r in out["results"]]
    # AR has no window: one row per test, not one per window
    assert rows == [("wedlm", 8, "pp32"), ("wedlm", 8, "tg16"), ("wedlm", 16, "pp32"),
                    ("wedlm", 16, "tg16"), ("ar", 8, "pp32"), ("ar", 8, "tg16")]
    for r in out["results"]:
        assert len(r["tokens_per_s"]["samples"]) == 2 and r["tokens_per_s"]["mean"] > 0
        assert r["threads"] >= 1 and r["ttft_ms"] > 0
        if r["mode"] == "ar":
            assert r["tokens_per_forward"] == 1.0
    wedlm_tg = [r for r in out["results"] if r["mode"] == "wedlm" and r["test"] == "tg16"]
    assert all(r["tokens_per_forward"] >= 1.0 for r in wedlm_tg)


def test_a_chat_prompt_shows_wedlm_committing_several_tokens_per_forward():
    out = bench_json("-p", "0", "-n", "64", "--mode", "wedlm", "--prompt", "Count from 1 to 60.")
    (row,) = out["results"]
    assert row["test"] == "tg64" and row["tokens_per_forward"] > 3


def test_sampling_flags_are_reported_and_checked():
    out = bench_json("-p", "0", "-n", "16", "--mode", "wedlm", "--temperature", "0.8",
                     "--top-k", "40", "--top-p", "0.9")
    assert out["sampling"] == "temperature 0.8, top-k 40, top-p 0.9"
    assert out["results"][0]["tokens_per_s"]["mean"] > 0
    assert bench_json("-p", "16", "-n", "0", "--mode", "ar")["sampling"] == "greedy"
    assert len(bench_json("-p", "16", "-n", "0", "--mode", "ar")["load_average"]) == 3
    bad = run("bench", "-p", "0", "-n", "4", "-r", "1", "--temperature", "1", "--top-p", "1.5")
    assert bad.returncode != 0 and "top_p 1.5 must be in (0, 1]" in bad.stderr


def test_markdown_and_csv():
    md = run("bench", "-p", "16", "-n", "0", "-r", "1", "--mode", "ar")
    assert md.returncode == 0, md.stderr
    lines = md.stdout.splitlines()
    assert lines[0].startswith("| model | params | dtype | backend | threads | mode |")
    assert "| wedlm-tiny | 7.35 M | BF16 | CPU |" in lines[2] and "| pp16 |" in lines[2]
    assert ", load average " in lines[-1], lines[-1]  # other load on the machine skews figures
    csv = run("bench", "-p", "16", "-n", "0", "-r", "1", "--mode", "ar", "-o", "csv")
    header, row = csv.stdout.splitlines()
    assert header.split(",")[-5:] == ["tokens_per_s", "tokens_per_s_sd", "forwards_per_s",
                                      "tokens_per_forward", "ttft_ms"]
    assert row.startswith(f'"wedlm-tiny",{BUNDLED_PARAMS},BF16,CPU,')


def test_random_weights_of_a_real_shape():
    out = bench_json("--random-weights", "qwen3-0.6b", "-p", "16", "-n", "2", "--mode", "ar",
                     "-r", "1")
    # Qwen3-0.6B: tied 151936 x 1024 embedding; per layer q/o 2048 x 1024, k/v 1024 x 1024,
    # MLP 3 x 3072 x 1024, norms 2 x 1024 + 2 x 128; final norm 1024
    layer = 2 * 2048 * 1024 + 2 * 1024 * 1024 + 3 * 3072 * 1024 + 2 * 1024 + 2 * 128
    assert out["model"] == "qwen3-0.6b (random)"
    assert out["params"] == 151936 * 1024 + 28 * layer + 1024
    assert [r["test"] for r in out["results"]] == ["pp16", "tg2"]


@pytest.mark.parametrize("args, needle", [
    (["-p", "12x"], "'12x'"), (["--mode", "fast"], "--mode"), (["-o", "xml"], "-o must be"),
    (["--random-weights", "gpt-9"], "qwen3-0.6b"), (["-p", "0", "-n", "0"], "nothing to run"),
    (["-n", "2000"], "positions"), (["--threshold", "low"], "--threshold")])
def test_bad_input_is_named(args, needle):
    r = run("bench", "-r", "1", *args)
    assert r.returncode == 1 and needle in r.stderr, r.stderr


def test_depth_sets_the_context_of_generation_tests():
    shallow = bench_json("-p", "0", "-n", "8", "--mode", "ar", "-r", "1")
    deep = bench_json("-p", "0", "-n", "8", "--mode", "ar", "-r", "1", "-d", "600")
    (s,), (d,) = shallow["results"], deep["results"]
    assert s["test"] == d["test"] == "tg8"
    # 600 prompt tokens to prefill before the first token, against 8
    assert d["ttft_ms"] > s["ttft_ms"]
    too_deep = run("bench", "-p", "0", "-n", "8", "-d", "1020", "-r", "1")
    assert too_deep.returncode != 0 and "need 1061 positions, the model has 1024" in too_deep.stderr
    assert "-d must be at least 1" in run("bench", "-d", "0").stderr
