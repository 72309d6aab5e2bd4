"""The instruction-data generator: deterministic, and every answer independently correct."""

import json
import re

import conftest  # noqa: F401  (puts training/ on the path)
import datagen
import dataset


def nums(text):
    return [int(x) for x in re.findall(r"\d+", text)]


def test_examples_are_pure_functions_of_seed_and_index():
    a = [datagen.make_example(7, i) for i in range(200)]
    b = [datagen.make_example(7, i) for i in range(199, -1, -1)][::-1]
    assert a == b
    assert a != [datagen.make_example(8, i) for i in range(200)]


def test_every_family_appears_and_replies_match_answers():
    seen = set()
    for i in range(3000):
        e = datagen.make_example(1, i)
        seen.add(e["family"])
        reply = e["messages"][-1]["content"]
        assert e["messages"][-1]["role"] == "assistant"
        assert datagen.reply_is_correct(e, reply), e
        assert not datagen.reply_is_correct(e, reply + "0"), e
    assert seen == set(datagen.FAMILIES)


def check_arithmetic(e):
    prompt, reply = e["messages"][-2]["content"], e["messages"][-1]["content"]
    a, b = nums(prompt)[:2]
    want = {"add": a + b, "mul": a * b, "sub": a - b}[e["family"]]
    if prompt.startswith("Subtract"):  # "Subtract b from a" names the operands the other way
        want = b - a
    assert reply.split("\n")[-1] == f"Answer: {want}", e


def test_arithmetic_answers_are_right():
    for i in range(4000):
        e = datagen.make_example(3, i)
        if e["family"] in ("add", "sub", "mul"):
            check_arithmetic(e)


def test_list_tasks_are_right():
    for i in range(4000):
        e = datagen.make_example(4, i)
        prompt, reply = e["messages"][-2]["content"], e["messages"][-1]["content"]
        items = prompt.split(": ", 1)[-1].rstrip(".").split(", ")
        if e["family"] == "sort":
            assert nums(reply) == sorted(nums(prompt), reverse="descending" in prompt)
        elif e["family"] == "reverse":
            assert reply.split(", ") == items[::-1]
        elif e["family"] == "count":
            seq = nums(reply)
            steps = {seq[k + 1] - seq[k] for k in range(len(seq) - 1)}
            first, last = map(int, re.search(r"from (\d+) to (\d+)", prompt).groups())
            assert len(steps) == 1 and (seq[0], seq[-1]) == (first, last), e
            by = re.search(r"by (\d+)s", prompt)
            assert abs(steps.pop()) == (int(by.group(1)) if by else 1), e
        elif e["family"] == "json":
            obj = json.loads(reply)
            assert all(str(v) in prompt and k in prompt for k, v in obj.items())


def test_training_set_leaves_out_every_heldout_prompt():
    held = {datagen.prompt_key(e) for e in dataset.eval_set(30)}
    assert len(held) > 0.95 * 30 * len(datagen.FAMILIES)  # small families repeat a question
    n = 1500
    clashes = [i for i in range(n) if datagen.prompt_key(datagen.make_example(1, i)) in held]
    assert clashes, "the first examples of the stream should repeat some held-out prompts"
    rows = dataset.build_train_set(conftest.TOKENIZER, n, held, n_im_end=1, workers=1)
    assert len(rows) == n - len(clashes)
