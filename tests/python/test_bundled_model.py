"""The bundled trained model (models/wedlm-tiny) meets the figures of its issue, decoded by the
float64 reference at the engine defaults (greedy, window 16, threshold 0.4, penalty 0.02) on the
whole held-out set. The wall-clock comparison of WeDLM and AR needs the C++ engine, not this."""

import json
import os
import subprocess
import sys

import pytest

import conftest
import bpe
import eval_model
from model_np import RefModel


def test_checkpoint_is_laid_out_like_a_wedlm_checkpoint():
    cfg = json.load(open(os.path.join(conftest.MODEL, "config.json")))
    assert cfg["model_type"] == "wedlm" and cfg["architectures"] == ["WeDLMForCausalLM"]
    assert cfg["qk_norm"] and not cfg["attention_bias"] and not cfg["tie_word_embeddings"]
    gen = json.load(open(os.path.join(conftest.MODEL, "generation_config.json")))
    assert cfg["eos_token_id"] in gen["eos_token_id"]
    tcfg = json.load(open(os.path.join(conftest.MODEL, "tokenizer_config.json")))
    assert "<|im_start|>" in tcfg["chat_template"] and tcfg["eos_token"] == "<|im_end|>"
    size = os.path.getsize(os.path.join(conftest.MODEL, "model.safetensors"))
    assert size < 25 * 2**20


def test_heldout_file_is_reproducible(tmp_path):
    out = tmp_path / "heldout.jsonl"
    subprocess.run([sys.executable, os.path.join(conftest.ROOT, "training", "make_heldout.py"),
                    "--tokenizer", conftest.TOKENIZER, "--out", str(out)], check=True)
    assert out.read_text(encoding="utf-8") == open(conftest.HELDOUT, encoding="utf-8").read()


@pytest.fixture(scope="module")
def figures():
    model = RefModel(conftest.MODEL)
    tok = bpe.ByteLevelBPE.load(conftest.TOKENIZER)
    results = eval_model.evaluate(model, tok, eval_model.load_heldout(conftest.HELDOUT))
    table = eval_model.table(results)
    eval_model.print_table(table)
    return table


def test_exact_answer_accuracy_at_least_90_percent_in_both_modes(figures):
    assert figures["ALL"]["n"] == 390
    assert figures["ALL"]["wedlm_acc"] >= 0.90, figures["ALL"]
    assert figures["ALL"]["ar_acc"] >= 0.90, figures["ALL"]


def test_parallel_decoding_commits_several_tokens_per_forward(figures):
    assert figures["count"]["tokens_per_forward"] >= 4, figures["count"]
    assert figures["ALL"]["tokens_per_forward"] >= 2, figures["ALL"]


def test_reference_matches_transformers_on_the_bundled_model():
    """tests/data/hf_logprobs_wedlm_tiny.json: transformers 5.17 Qwen3ForCausalLM scoring of
    held-out conversations (training/hf_logprobs.py, run on the GPU machine)."""
    from decode_np import next_logprobs
    golden = json.load(open(os.path.join(conftest.ROOT, "tests", "data",
                                         "hf_logprobs_wedlm_tiny.json")))
    model = RefModel(conftest.MODEL)
    assert len(golden["cases"]) >= 13
    for case in golden["cases"]:
        got = next_logprobs(model, case["ids"])
        assert max(abs(a - b) for a, b in zip(got, case["next_logprob"])) < 1e-4, case["family"]
