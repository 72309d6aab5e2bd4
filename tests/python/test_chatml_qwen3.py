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
    assert len(cases) == 72
    for c in cases:
        got = q3.render_text(c["messages"], c["tools"], c["add_generation_prompt"],
                             c["enable_thinking"])
        assert got == c["text"], c


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
            want_text = "".join(t for t, _ in want)[len("<|im_start|>assistant\n"):-1]
            assert span[-1] == end and tok.decode(span) == want_text, (e, tok.decode(span))
            seen_calls += "<tool_call>" in want_text
    assert seen_calls > 20
