"""The bundled model v2's chat format (training/chatml_qwen3.py, qwen3_chat_template.jinja): the
Python rendering equals the Jinja oracle's rendering of the template on every golden case, the
template itself renders as Qwen3's own does, plain conversations encode as the first model's
ChatML did, and training ids train exactly each assistant turn as generated."""

import json
import os

import pytest

import bpe
import chatml
import chatml_qwen3 as q3
import conftest
import datagen_v2

GOLDEN = os.path.join(conftest.ROOT, "tests", "data", "chat_template_golden.json")


def golden(template):
    with open(GOLDEN) as f:
        return [c for c in json.load(f)["cases"] if c["template"] == template]


@pytest.fixture(scope="module")
def tok():
    return bpe.ByteLevelBPE.load(conftest.TOKENIZER)


def test_python_rendering_is_the_templates_on_every_golden_case():
    cases = golden("wedlm_qwen3")
    assert len(cases) == 76
    for c in cases:
        got = q3.render_text(c["messages"], c["tools"], c["add_generation_prompt"],
                             c["enable_thinking"])
        assert got == c["text"], c


def test_the_goldens_were_rendered_from_this_template():
    import hashlib
    with open(GOLDEN) as f:
        recorded = json.load(f)["wedlm_qwen3_sha256"]
    assert hashlib.sha256(q3.QWEN3_TEMPLATE.encode()).hexdigest() == recorded, \
        "the template changed: run node tests/oracle/render_chat_templates.mjs"
    null = golden("wedlm_qwen3_null_content")[0]  # OpenAI's content null beside tool calls
    assert q3.render_text(null["messages"], null["tools"]) == null["text"]


def test_the_template_renders_as_qwen3s_own():
    ours, theirs = golden("wedlm_qwen3"), golden("qwen3")
    assert [c["text"] for c in ours] == [c["text"] for c in theirs]
    # and the engine recognises it as Qwen3's format (ChatTemplate::recognize's markers)
    assert "</think>" in q3.QWEN3_TEMPLATE and "last_query_index" in q3.QWEN3_TEMPLATE
    assert "<|im_start|>" in q3.QWEN3_TEMPLATE and not q3.QWEN3_TEMPLATE.endswith("\n")


def test_plain_conversations_encode_as_the_first_models_chatml(tok):
    for i in range(300):
        e = datagen_v2.make_example_v2(4, i)
        if "tools" in e or e["family"] == "schema":
            continue
        prompt = e["messages"][:-1]
        assert q3.prompt_ids(tok, prompt) == chatml.prompt_ids(tok, prompt), e


def test_prompt_ids_are_the_rendered_text_tokenized_when_content_has_no_markup(tok):
    for i in range(300):
        e = datagen_v2.make_example_v2(5, i)
        msgs = e["messages"][:-1]
        text = q3.render_text(msgs, e.get("tools"), add_generation_prompt=True)
        assert q3.prompt_ids(tok, msgs, e.get("tools")) == tok.encode(text), e


def test_markup_in_content_stays_text(tok):
    msgs = [{"role": "user", "content": "say <|im_end|> please"}]
    ids = q3.prompt_ids(tok, msgs)
    assert ids.count(tok.specials["<|im_end|>"]) == 1  # only the template's own


def test_training_ids_train_each_assistant_turn_as_generated(tok):
    end = tok.specials["<|im_end|>"]
    seen_calls = 0
    for i in range(400):
        e = datagen_v2.make_example_v2(6, i)
        ids, labels = q3.training_ids(tok, e["messages"], e.get("tools"), n_learnable_im_end=2)
        assert len(ids) == len(labels) and ids[-2:] == [end, end] and labels[-1]
        spans, cur = [], []
        for t, lab in zip(ids[:-1], labels[:-1]):
            if lab:
                cur.append(t)
            elif cur:
                spans.append(cur)
                cur = []
        if cur:
            spans.append(cur)
        turns = [m for m in e["messages"] if m["role"] == "assistant"]
        assert len(spans) == len(turns), e
        for span, m in zip(spans, turns):
            want = q3.pieces([m], plain_last=True)  # the turn alone: content, calls, im_end
            assert want[0] == ("<|im_start|>assistant\n", False) and want[-1][0] == "<|im_end|>\n"
            assert span == q3.encode_pieces(tok, want[1:-1]) + [end], e  # ids, as generated
            seen_calls += "<tool_call>" in tok.decode(span)
    assert seen_calls > 20


def test_v2_tokenizer_adds_one_token_per_tool_marker_kept_in_decoded_text(tok, tmp_path):
    v2 = q3.tokenizer_v2(tok)
    ids = [v2.specials[t] for t in q3.TOOL_TOKENS]
    assert ids == list(range(2014, 2020)) and max(ids) < 2048  # rows the model already has
    call = '<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call><|im_end|>'
    enc = v2.encode(call)
    assert enc[0] == 2014 and enc[-2:] == [2015, tok.specials["<|im_end|>"]]
    assert v2.decode(enc, skip_special=True) == call[:-len("<|im_end|>")]
    assert v2.encode_plain("<tool_call>") == tok.encode_plain("<tool_call>")  # content: text
    path = tmp_path / "tokenizer.json"
    v2.save(path)
    again = bpe.ByteLevelBPE.load(path)
    assert again.specials == v2.specials and again.plain_added == set(q3.TOOL_TOKENS)
    flags = {t["content"]: t["special"] for t in json.loads(path.read_text())["added_tokens"]}
    assert flags["<tool_call>"] is False and flags["<|im_end|>"] is True


def test_the_engine_reads_the_v2_tokenizer_alike(tok, tmp_path):
    from test_cli import WEDLM
    if not os.path.exists(WEDLM):
        pytest.skip("the wedlm binary is not built")
    import shutil
    import subprocess
    model = tmp_path / "model"
    shutil.copytree(conftest.MODEL, model)
    v2 = q3.tokenizer_v2(tok)
    v2.save(model / "tokenizer.json")
    text = "<|im_start|>assistant\n<tool_call>\n{\"name\": \"add\"}\n</tool_call><|im_end|>"
    out = subprocess.run([WEDLM, "tokenize", "-m", str(model), "-p", text, "--json"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert json.loads(out)["ids"] == v2.encode(text)
    ids = ",".join(map(str, v2.encode(text)))
    out = subprocess.run([WEDLM, "tokenize", "-m", str(model), "--decode", ids,
                          "--skip-special", "--json"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert json.loads(out)["text"] == v2.decode(v2.encode(text), skip_special=True)
