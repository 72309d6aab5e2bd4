"""bench/wedlm_vs_ar.py runs and reports real counts (its timings are figures, never asserted)."""

import os
import re
import subprocess
import sys

import conftest

from test_cli import WEDLM, pytestmark  # noqa: F401  (skips without the build)

SCRIPT = os.path.join(conftest.ROOT, "bench", "wedlm_vs_ar.py")


def bench(*args):
    r = subprocess.run([sys.executable, SCRIPT, "--limit", "3", "-r", "1", "-t", "1", *args],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def mode_row(out, mode):
    (row,) = [line for line in out.splitlines() if line.startswith(f"| {mode} |")]
    return [c.strip() for c in row.strip("|").split("|")]


def test_batch_method_counts_tokens_forwards_and_answers():
    out = bench("--family", "count")
    assert "3 'count' prompts" in out
    wedlm, ar = mode_row(out, "wedlm"), mode_row(out, "ar")
    # tokens, forwards, tokens/forward: AR is one token per forward, WeDLM several on counting
    assert int(ar[2]) == int(ar[3]) > 0 and ar[4] == "1.00"
    assert int(wedlm[3]) < int(wedlm[2]) and float(wedlm[4]) >= 4
    assert ar[6] == "3/3"
    assert re.search(r"wall-clock ratio per pair: \d+\.\d{3} \(", out)


def test_a_row_per_family():
    out = bench("--family", "each")  # the first 3 held-out prompts: count, json, case
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["family", "case", "count", "json"]
    count = [c.strip() for c in rows[2].strip("|").split("|")]
    assert count[1] == "1" and count[3] == "1.000" and float(count[4]) >= 4


def test_per_prompt_method_and_bad_family():
    out = bench("--method", "per-prompt", "--family", "sort")
    assert int(mode_row(out, "ar")[3]) == int(mode_row(out, "ar")[2])
    assert re.search(r"engine-time ratio: \d+\.\d{3}", out)
    r = subprocess.run([sys.executable, SCRIPT, "--family", "poetry"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "no held-out prompts of family 'poetry'" in r.stderr
