"""`wedlm bench-serve` end to end against `wedlm serve` on the bundled model (short settings)."""

import json
import subprocess

import pytest

from test_cli import WEDLM, pytestmark, run  # noqa: F401  (skips without the build)


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen([WEDLM, "serve", "--port", "0", "-np", "8"], stderr=subprocess.PIPE,
                            text=True)
    port = None
    for line in proc.stderr:
        event = json.loads(line)
        if event.get("event") == "ready":
            port = event["port"]
            break
    assert port, "the server did not become ready"
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    assert proc.wait(timeout=30) == 0


def bench_serve(url, *args):
    return run("bench-serve", "--base-url", url, "--no-progress", *args)


def test_single_prints_vllm_figures_and_saves_vllm_keys(server, tmp_path):
    out = tmp_path / "single.json"
    r = bench_serve(server, "--scenario", "single", "--num-prompts", "6", "--save-result", str(out))
    assert r.returncode == 0, r.stderr
    for label in ("Successful requests:", "Mean TTFT (ms):", "P99 TPOT (ms):", "Median ITL (ms):",
                  "P95 E2EL (ms):", "Output token throughput (tok/s):", "Tokens per chunk:"):
        assert label in r.stdout
    res = json.loads(out.read_text())["result"]
    assert res["completed"] == 6 and res["failed"] == 0
    assert len(res["output_lens"]) == 6 and all(n >= 1 for n in res["output_lens"])
    assert sum(res["output_lens"]) == res["total_output_tokens"]
    for k in ("mean_ttft_ms", "median_tpot_ms", "p99_itl_ms", "std_e2el_ms", "request_throughput"):
        assert k in res
    assert res["tokens_per_chunk"] > 1, "WeDLM commits several tokens per chunk"


def test_batch_levels_and_ar_commits_one_token_per_chunk(server, tmp_path):
    out = tmp_path / "batch.json"
    r = bench_serve(server, "--scenario", "batch", "--num-prompts", "8", "--max-concurrency", "1,4",
                    "--decode-mode", "ar", "--max-tokens", "64", "--save-result", str(out))
    assert r.returncode == 0, r.stderr
    levels = json.loads(out.read_text())["result"]["levels"]
    assert [lv["max_concurrency"] for lv in levels] == [1, 4]
    for lv in levels:
        assert lv["completed"] == 8
        assert lv["tokens_per_chunk"] == pytest.approx(1.0, abs=0.15)


def test_multi_turn_reuses_the_prefix_cache(server, tmp_path):
    out = tmp_path / "mt.json"
    r = bench_serve(server, "--scenario", "multi-turn", "--conversations", "2", "--turns", "3",
                    "--max-tokens", "48", "--save-result", str(out))
    assert r.returncode == 0, r.stderr
    turns = json.loads(out.read_text())["result"]["turns"]
    assert [t["turn"] for t in turns] == [1, 2, 3]
    assert turns[2]["mean_prompt_tokens"] > turns[0]["mean_prompt_tokens"], "the history grows"
    assert turns[2]["mean_cached_tokens"] >= 16, "earlier turns are served from the cache"


def test_stability_repeats_every_seeded_request(server):
    r = bench_serve(server, "--scenario", "stability", "--num-prompts", "12", "--max-tokens", "64")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Identical outputs:                      12/12" in r.stdout
    assert "Server answering afterwards:            yes" in r.stdout


def test_failures_are_counted_and_named():
    r = run("bench-serve", "--base-url", "http://127.0.0.1:9", "--no-progress", "--num-prompts", "2")
    assert r.returncode == 2
    assert "Failed requests:                        2" in r.stdout and "error:" in r.stdout


@pytest.mark.parametrize("args, needle", [
    (["--scenario", "chaos"], "--scenario"), (["--max-concurrency", "0"], "--max-concurrency"),
    (["--min-tokens", "50", "--max-tokens", "10"], "--max-tokens")])
def test_bad_flags_are_named(args, needle):
    r = run("bench-serve", *args)
    assert r.returncode == 1 and needle in r.stderr, r.stderr


def test_smoke_prompts_pass_on_the_bundled_model(server):
    r = bench_serve(server, "--scenario", "smoke")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "smoke: 12/12 passed" in r.stdout
    assert "| refuse-theft | pass |" in r.stdout and "| follow-up | pass |" in r.stdout


def test_smoke_failures_are_shown_and_completion_only_ignores_answers(server):
    cut = bench_serve(server, "--scenario", "smoke", "--max-tokens", "2")
    assert cut.returncode == 2
    assert "| count | FAIL | missing" in cut.stdout
    loose = bench_serve(server, "--scenario", "smoke", "--max-tokens", "2", "--completion-only")
    assert loose.returncode == 0 and "12/12 passed (completion only" in loose.stdout


def test_a_bad_smoke_file_is_named(tmp_path):
    bad = tmp_path / "smoke.jsonl"
    bad.write_text('{"name": "x", "messages": [], "expect": {"regex": "("}}\n')
    r = run("bench-serve", "--scenario", "smoke", "--prompts", str(bad))
    assert r.returncode == 1 and f"{bad}:1" in r.stderr, r.stderr


def test_wedlm_against_ar_with_an_html_report(server, tmp_path):
    page, saved = tmp_path / "batch.html", tmp_path / "batch.json"
    r = bench_serve(server, "--scenario", "batch", "--num-prompts", "4", "--max-concurrency", "1,2",
                    "--decode-mode", "wedlm,ar", "--max-tokens", "64", "--html", str(page),
                    "--save-result", str(saved))
    assert r.returncode == 0, r.stderr
    assert "## decode mode: wedlm" in r.stdout and "## decode mode: ar" in r.stdout
    results = json.loads(saved.read_text())["results"]
    assert set(results) == {"wedlm", "ar"}
    assert results["wedlm"]["levels"][0]["tokens_per_chunk"] > 2 > results["ar"]["levels"][0]["tokens_per_chunk"]
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 2
    assert "Output throughput against concurrency" in html and ">wedlm<" in html and ">ar<" in html
    # self-contained: no scripts, no external resources
    assert "<script" not in html and "src=" not in html and "href=" not in html
    assert html.count("http") == html.count('xmlns="http://www.w3.org/2000/svg"')


def test_replica_urls_are_checked_before_the_run():
    r = run("bench-serve", "--base-url", "http://127.0.0.1:9", "--no-progress",
            "--replica-metrics", "http://127.0.0.1:9,127.0.0.1:8082")
    assert r.returncode != 0
    assert "--replica-metrics: '127.0.0.1:8082' is not a URL" in r.stderr
