"""bench/count_sweep.py: its cases follow the count family's styles, its judge tells a run-on from
an early stop, and it runs end to end on the bundled model."""

import importlib.util
import json
import os
import re
import subprocess

import conftest
import datagen
from test_cli import WEDLM, pytestmark  # noqa: F401  (skips without the build)

SCRIPT = os.path.join(conftest.ROOT, "bench", "count_sweep.py")
spec = importlib.util.spec_from_file_location("count_sweep", SCRIPT)
sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sweep)


def test_cases_cover_every_style_and_length_with_the_training_prompts():
    cases = sweep.sweep_cases(2, 5)
    assert len(cases) == 4 * len(sweep.STYLES)
    style, n, prompt, expected = cases[0]
    assert (style, n, prompt, expected) == ("up", 2, "Count from 1 to 2.", "1, 2")
    down = [c for c in cases if c[0] == "down" and c[1] == 5][0]
    assert down[2:] == ("Count down from 5 to 1.", "5, 4, 3, 2, 1")
    by_k = [c for c in cases if c[0] == "by k" and c[1] == 3][0]  # 3 % 4 -> steps of 10
    assert by_k[2:] == ("Count from 10 to 30 by 10s.", "10, 20, 30")
    # every prompt template is one the count family trains on
    shape = lambda text: re.sub(r"\d+", "#", text)  # noqa: E731
    trained = {shape(m["content"]) for i in range(3000)
               for ex in [datagen.make_example(1, i)] if ex["family"] == "count"
               for m in ex["messages"] if m["role"] == "user"}
    assert {shape(prompt) for _, _, prompt, _ in cases} <= trained


def test_a_reply_that_goes_past_the_end_is_a_run_on():
    assert sweep.classify("1, 2, 3", "1, 2, 3", "stop") == "exact"
    assert sweep.classify("1, 2, 3,", "1, 2, 3", "stop") == "run-on"
    assert sweep.classify("1, 2, 3, 4", "1, 2, 3", "stop") == "run-on"
    assert sweep.classify("1, 2, 3", "1, 2, 3", "length") == "run-on"
    assert sweep.classify("1, 2", "1, 2, 3", "stop") == "early"
    assert sweep.classify("1, 5, 3", "1, 2, 3", "stop") == "wrong"
    # the lengths the count family trains on: 3 numbers or more, at most 240 characters, at most
    # 64 numbers up, 50 down, 30 by steps
    assert not sweep.trained("up", 2, "1, 2") and sweep.trained("up", 3, "1, 2, 3")
    longest = ", ".join(map(str, range(1, 63)))  # 1..62: 237 characters
    assert sweep.trained("up", 62, longest)
    assert not sweep.trained("up", 63, longest + ", 63")
    assert not sweep.trained("down", 51, "51, 50") and not sweep.trained("by k", 31, "2, 4")


def test_the_sweep_runs_on_the_bundled_model(tmp_path):
    out = tmp_path / "sweep.json"
    r = subprocess.run(["/usr/bin/python3", SCRIPT, "--min-n", "3", "--max-n", "4",
                        "--modes", "ar", "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "| ar | up |" in r.stdout
    rows = json.loads(out.read_text())
    assert len(rows) == 2 * len(sweep.STYLES)
    # lengths the training data covers: the current model counts them exactly
    assert all(row["outcome"] == "exact" for row in rows), rows
