"""The `wedlm` CLI as a user runs it (needs the C++ build: scripts/test.sh builds it first)."""

import json
import math
import os
import shutil
import subprocess

import pytest

import conftest
import bpe
import chatml

WEDLM = os.path.join(conftest.ROOT, "build", "src", "tools", "wedlm")
pytestmark = pytest.mark.skipif(not os.path.exists(WEDLM),
                                reason=f"{WEDLM} not built: CLI tests skipped")


def run(*args):
    return subprocess.run([WEDLM, *args], capture_output=True, text=True, timeout=120)


def chat_ids(text):
    tok = bpe.ByteLevelBPE.load(conftest.TOKENIZER)
    return ",".join(map(str, chatml.prompt_ids(tok, [{"role": "user", "content": text}])))


def generate_json(*args):
    r = run("generate", "--json", "--temperature", "0", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_generate_json_on_the_bundled_model():
    for mode in ("wedlm", "ar"):
        out = generate_json("--prompt-ids", chat_ids("Count from 1 to 12."), "--mode", mode)
        assert out["text"] == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"
        assert out["finish_reason"] == "stop" and out["output_ids"][-1] == 2012
        assert set(out["timings"]) == {"prefill_ms", "decode_ms", "tokens_per_s"}
        assert out["tokens_per_forward"] == pytest.approx(len(out["output_ids"]) / out["forwards"])
    assert generate_json("--prompt-ids", chat_ids("Count from 1 to 12."))["forwards"] < 8


def test_text_prompts_chat_and_raw():
    chat = generate_json("-p", "Count from 1 to 12.", "--chat")
    assert chat["prompt_ids"] == [int(x) for x in chat_ids("Count from 1 to 12.").split(",")]
    assert chat["text"] == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"
    raw = generate_json("-p", "<|im_start|>user\nCount from 1 to 12.<|im_end|>\n"
                              "<|im_start|>assistant\n")
    assert raw["prompt_ids"] == chat["prompt_ids"], "raw mode parses the ChatML markers"


def test_chat_with_a_system_message_uses_the_template():
    tok = bpe.ByteLevelBPE.load(conftest.TOKENIZER)
    msgs = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of Japan?"}]
    out = generate_json("-p", msgs[1]["content"], "--chat", "--system", msgs[0]["content"])
    assert out["prompt_ids"] == chatml.prompt_ids(tok, msgs)
    assert out["text"] == "The capital of Japan is Tokyo."


def test_streamed_text_equals_the_json_text():
    ids = chat_ids("Spell the word 'garden'.")
    r = run("generate", "--prompt-ids", ids, "--temperature", "0")
    assert r.returncode == 0 and r.stdout == "g-a-r-d-e-n\n"
    assert "tokens/forward" in r.stderr


def test_im_end_stops_even_when_the_config_names_another_eos(tmp_path):
    shutil.copytree(conftest.MODEL, tmp_path / "m")
    cfg = json.load(open(tmp_path / "m" / "config.json"))
    cfg["eos_token_id"] = 7
    json.dump(cfg, open(tmp_path / "m" / "config.json", "w"))
    (tmp_path / "m" / "generation_config.json").unlink()
    out = generate_json("-m", str(tmp_path / "m"), "--prompt-ids", chat_ids("Count from 1 to 5."))
    assert out["finish_reason"] == "stop" and out["text"] == "1, 2, 3, 4, 5"


def test_stop_strings_limits_and_seeds():
    ids = chat_ids("Count from 1 to 30.")
    out = generate_json("--prompt-ids", ids, "--stop", ", 5")
    assert out["text"] == "1, 2, 3, 4" and out["finish_reason"] == "stop"
    out = generate_json("--prompt-ids", ids, "-n", "7")
    assert len(out["output_ids"]) == 7 and out["finish_reason"] == "length"
    hot = ["--prompt-ids", chat_ids("Tell me a story."), "--temperature", "1.0", "-n", "20"]
    seeded = [generate_json(*hot, "--seed", s)["output_ids"] for s in ("3", "3", "4")]
    assert seeded[0] == seeded[1], "the same seed must give the same output in another process"
    assert seeded[0] != seeded[2], "the seed must matter"


def test_a_broken_tokenizer_is_named_when_text_needs_it(tmp_path):
    shutil.copytree(conftest.MODEL, tmp_path / "m")
    tj = json.load(open(tmp_path / "m" / "tokenizer.json"))
    tj["model"]["type"] = "WordPiece"
    json.dump(tj, open(tmp_path / "m" / "tokenizer.json", "w"))
    r = run("generate", "-m", str(tmp_path / "m"), "-p", "hi")
    assert r.returncode == 1 and "model type 'WordPiece' is not supported" in r.stderr, r.stderr
    assert run("generate", "-m", str(tmp_path / "m"), "--prompt-ids", "5", "-n", "2").returncode == 0


def test_perplexity_is_consistent():
    r = run("perplexity", "--prompt-ids", "18,11,220,19,11,220,20", "--json")
    out = json.loads(r.stdout)
    assert len(out["next_logprob"]) == 6
    assert out["ppl"] == pytest.approx(math.exp(-sum(out["next_logprob"]) / 6))


@pytest.mark.parametrize("args,needle", [
    (["generate", "-p", "hi", "--prompt-ids", "1"], "give one of -p, -f, --prompt-ids"),
    (["generate", "-f", "/nonexistent.txt"], "/nonexistent.txt: cannot open"),
    (["generate", "-p", "ok \udcff"], "UTF-8"),
    (["generate", "--prompt-ids", "1,x"], "'x' is not a token id"),
    (["generate", "--prompt-ids", "5000"], "outside the vocabulary"),
    (["generate", "--prompt-ids", "1", "--window", "0"], "window 0"),
    (["generate", "--prompt-ids", "1", "--mode", "fast"], "--mode must be wedlm or ar"),
    (["generate", "--prompt-ids", "1", "--threshold", "low"], "--threshold"),
    (["info", "-m", "/nonexistent"], "/nonexistent/config.json"),
    (["generate", "--prompt-ids", "1", "--kv-block", "0"], "--kv-block 0"),
])
def test_bad_input_is_named_and_exits_1(args, needle):
    r = run(*args)
    assert r.returncode == 1 and needle in r.stderr, r.stderr


def test_tokenize_encode_decode_and_jsonl():
    tok = bpe.ByteLevelBPE.load(conftest.TOKENIZER)
    text = "Count from 1 to 60.\n  <|im_end|>"
    r = run("tokenize", "-p", text, "--json")
    assert json.loads(r.stdout)["ids"] == tok.encode(text)
    ids = ",".join(map(str, tok.encode(text)))
    assert json.loads(run("tokenize", "--decode", ids, "--json").stdout)["text"] == text
    assert run("tokenize", "--decode", ids, "--skip-special").stdout == "Count from 1 to 60.\n  \n"
    lines = '{"text": "sort 3, 1"}\n{"txt": 1}\nnot json\n{"text": "\\u00e9"}\n'
    r = subprocess.run([WEDLM, "tokenize", "--jsonl"], input=lines, capture_output=True,
                       text=True, timeout=60)
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(out) == 4, "one answer per input line, in order"
    assert out[0] == {"ids": tok.encode("sort 3, 1")} and out[3] == {"ids": tok.encode("\u00e9")}
    assert "line 2" in out[1]["error"] and "line 3" in out[2]["error"]


def test_device_flag():
    r = run("generate", "-p", "x", "--device", "tpu")
    assert r.returncode != 0 and "--device 'tpu': expected auto, cpu or cuda" in r.stderr
    r = run("generate", "-p", "x", "--device", "cpu", "--gpu-memory-util", "1.5")
    assert r.returncode != 0 and "--gpu-memory-util 1.5 must be in (0, 1]" in r.stderr
    ids = chat_ids("Count from 1 to 12.")
    r = run("generate", "--prompt-ids", ids, "--temperature", "0", "--device", "cuda")
    if r.returncode != 0:  # no GPU here, or a build without the CUDA backend: named as such
        assert ("--device cuda: no CUDA device found" in r.stderr
                or "this build has no CUDA backend" in r.stderr), r.stderr
    else:  # on a GPU the bundled model must still count
        assert r.stdout.strip() == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"
    cpu = run("generate", "--prompt-ids", ids, "--temperature", "0", "--device", "cpu")
    assert cpu.returncode == 0 and cpu.stdout.strip() == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"


def test_version_names_the_build():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("wedlm ") and len(r.stdout.split()[1]) >= 7


def test_each_subcommand_lists_only_its_flags():
    serve = run("serve", "--help").stdout
    assert "--port" in serve and "--served-model-name" in serve
    for flag in ("--prompt-ids", "--chat", "--json", "-p,--prompt"):
        assert flag not in serve, flag
    batch = run("batch", "--help").stdout
    assert "--requests" in batch and "--json" in batch and "--chat" not in batch
    assert "--chat" in run("generate", "--help").stdout


def test_an_installed_binary_finds_the_bundled_model(tmp_path):
    build = os.path.dirname(os.path.dirname(os.path.dirname(WEDLM)))
    if not shutil.which("cmake") or not os.path.exists(os.path.join(build, "cmake_install.cmake")):
        pytest.skip("no cmake or no build tree to install from")
    subprocess.run(["cmake", "--install", build, "--prefix", str(tmp_path)], check=True,
                   capture_output=True)
    r = subprocess.run([str(tmp_path / "bin" / "wedlm"), "generate", "-p", "Count from 1 to 5.",
                        "--chat", "--temperature", "0"], capture_output=True, text=True,
                       cwd="/", timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "1, 2, 3, 4, 5", r.stderr
    help_text = subprocess.run([str(tmp_path / "bin" / "wedlm"), "generate", "--help"],
                               capture_output=True, text=True).stdout
    assert str(tmp_path / "share" / "wedlm" / "models" / "wedlm-tiny") in help_text
