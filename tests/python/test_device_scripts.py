"""The GPU run plan, checked here without a GPU: scripts/device_test.sh (timeouts, skips counted
as failures, a failing kernel test's memcheck and the heavy stages held back, what comes back in
$OUT) with stand-in test binaries; bench/cuda_vs_transformers.py's phases (figures written after
each, a failing or hung engine reported with its stderr, the table); bench/cpu_vs_cuda_heldout.py
comparing the CPU with itself."""

import json
import os
import re
import stat
import subprocess
import sys
import tarfile

import pytest

import conftest
from test_cli import WEDLM, pytestmark  # noqa: F401  (skips without the build)

DEVICE_TEST = os.path.join(conftest.ROOT, "scripts", "device_test.sh")
BENCH = os.path.join(conftest.ROOT, "bench", "cuda_vs_transformers.py")
HELDOUT = os.path.join(conftest.ROOT, "bench", "cpu_vs_cuda_heldout.py")

PASSING = """#!/bin/sh
echo "[==========] 2 tests from 1 test suite ran. (3 ms total)"
echo "[  PASSED  ] 2 tests."
"""
SKIPPING = """#!/bin/sh
echo "[  PASSED  ] 1 test."
echo "[  SKIPPED ] 2 tests, listed below:"
echo "[  SKIPPED ] CudaKernels.A"
"""
FAILING = """#!/bin/sh
echo "[  FAILED  ] CudaKernels.Attention (4 ms)"
echo "[  PASSED  ] 5 tests."
echo "[  FAILED  ] 2 tests, listed below:"
echo "[  FAILED  ] CudaKernels.Attention"
echo "[  FAILED  ] CudaKernels.SampleRows"
exit 1
"""


def executable(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)


def run_plan(tmp_path, kernels, stages, deadline=120):
    """device_test.sh over a pack of stand-in binaries; its exit code, summary and stdout."""
    stage = tmp_path / "stage"
    (stage / "bin").mkdir(parents=True)
    executable(stage / "bin" / "test_cuda_kernels", kernels)
    for name in ("test_cuda_model", "test_cuda_parity"):
        executable(stage / "bin" / name, PASSING)
    executable(stage / "bin" / "wedlm", "#!/bin/sh\nexit 3\n")
    with tarfile.open(tmp_path / "pack.tar.xz", "w:xz") as t:
        t.add(stage / "bin", arcname="bin")
    env = dict(os.environ, OUT=str(tmp_path / "out"), LOGS=str(tmp_path / "logs"),
               PACK_TAR=str(tmp_path / "pack.tar.xz"), PACK_DIR=str(tmp_path / "pack"),
               DEADLINE=str(deadline))
    r = subprocess.run(["bash", DEVICE_TEST] + stages, cwd=conftest.ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    summary = (tmp_path / "out" / "summary.txt").read_text()
    return r.returncode, summary, r.stdout


def test_plan_passes_when_every_test_binary_passes_and_returns_its_files(tmp_path):
    rc, summary, _ = run_plan(tmp_path, PASSING, ["tests"])
    assert rc == 0, summary
    assert "test_cuda_kernels: 2 passed, 0 failed, 0 skipped" in summary
    assert "device_test: 0 failing steps" in summary
    with tarfile.open(tmp_path / "out" / "logs.tar.gz") as t:
        assert "./test_cuda_kernels.log" in t.getnames()
    assert sorted(os.listdir(tmp_path / "out")) == ["logs.tar.gz", "summary.txt"]


def test_a_skipped_test_on_the_device_is_a_failure(tmp_path):
    rc, summary, _ = run_plan(tmp_path, SKIPPING, ["tests", "steps"])
    assert rc == 1
    assert "test_cuda_kernels: tests SKIPPED (or none passed) on the GPU machine: FAILURE" in summary
    assert "steps: SKIPPED (a kernel test failed)" in summary


def test_a_failing_kernel_test_gets_memcheck_alone_and_holds_the_heavy_stages(tmp_path):
    rc, summary, _ = run_plan(tmp_path, FAILING, ["tests", "steps"])
    assert rc == 1
    assert "test_cuda_kernels: FAILED (exit 1" in summary
    assert "failing: CudaKernels.Attention" in summary
    assert "failing: CudaKernels.SampleRows" in summary
    assert "memcheck_failing:" in summary  # run (compute-sanitizer may be absent here)
    log = (tmp_path / "logs" / "memcheck_failing.log").read_text()
    assert "Attention" in log or "compute-sanitizer" in log or "No such file" in log
    assert "steps: SKIPPED (a kernel test failed)" in summary


def test_a_hung_step_is_timed_out_and_the_deadline_skips_what_is_left(tmp_path):
    rc, summary, _ = run_plan(tmp_path, "#!/bin/sh\nsleep 60\n", ["tests"], deadline=30)
    assert rc == 1
    assert re.search(r"test_cuda_kernels: TIMED OUT after (1\d|20) s", summary), summary
    assert "test_cuda_model: SKIPPED (the run's deadline)" in summary


def fake_wedlm(tmp_path, body):
    path = tmp_path / "wedlm"
    executable(path, "#!/bin/sh\n" + body)
    return str(path)


def bench(args, timeout=120):
    return subprocess.run([sys.executable, BENCH] + args, capture_output=True, text=True,
                          timeout=timeout)


def test_bench_reports_a_failing_engine_with_its_stderr_and_keeps_the_figures(tmp_path):
    figs = tmp_path / "f.json"
    figs.write_text(json.dumps({"floor_ms": 5.0}))
    wedlm = fake_wedlm(tmp_path, 'echo "kernel exploded at layer 3" >&2\nexit 2\n')
    r = bench(["--phases", "eager,table", "--wedlm", wedlm, "--json", str(figs)])
    assert r.returncode == 1
    assert "kernel exploded at layer 3" in r.stdout
    fig = json.loads(figs.read_text())
    assert fig["floor_ms"] == 5.0 and "kernel exploded" in fig["eager_error"]
    assert "phase eager FAILED" in r.stdout


def test_bench_times_out_a_hung_engine(tmp_path):
    wedlm = fake_wedlm(tmp_path, "sleep 30\n")
    r = bench(["--phases", "graphs", "--wedlm", wedlm, "--timeout", "1",
               "--json", str(tmp_path / "f.json")])
    assert r.returncode == 1 and "timed out after 1 s" in r.stdout


def test_bench_reads_step_times_from_the_engine_and_tables_them_against_the_floor(tmp_path):
    # 2 sequences x 8 tokens a forward at 1600 tokens/s: a forward every 10 ms
    out = {"cpu": "NVIDIA H100", "build_commit": "abc", "results": [
        {"test": "tg32", "mode": "wedlm", "parallel": 1, "tokens_per_forward": 8.0,
         "tokens_per_s": {"samples": [790.0, 800.0, 810.0]}},
        {"test": "tg32", "mode": "wedlm", "parallel": 8, "tokens_per_forward": 8.0,
         "tokens_per_s": {"samples": [6400.0]}},
        {"test": "pp2048", "mode": "ar", "parallel": 1, "tokens_per_forward": 1.0,
         "tokens_per_s": {"samples": [40960.0]}}]}
    wedlm = fake_wedlm(tmp_path, f"cat <<'EOF'\n{json.dumps(out)}\nEOF\n")
    figs = tmp_path / "f.json"
    figs.write_text(json.dumps({"floor_ms": 5.0, "step_bytes": 15.1e9, "copy_gbs": 3000,
                                "sdpa_wedlm_step_b1_ms": 60.0}))
    r = bench(["--phases", "eager,table", "--wedlm", wedlm, "--json", str(figs)])
    assert r.returncode == 0, r.stdout + r.stderr
    fig = json.loads(figs.read_text())
    assert fig["wedlm_step_b1_ms"] == pytest.approx(10.0)
    assert fig["wedlm_step_b8_ms"] == pytest.approx(10.0)
    assert fig["prefill_2048_ms"] == pytest.approx(50.0)
    assert "| wedlm batch 1 | 10.00 | nan | 2.00x | <= 1.15x | 60.00 | 6.0x (>= 6x) |" in r.stdout


def test_bench_refuses_an_unknown_phase():
    r = bench(["--phases", "eager,warp"])
    assert r.returncode == 2 and "unknown phases ['warp']" in r.stderr


def test_heldout_comparison_of_the_cpu_with_itself_is_identical(tmp_path):
    r = subprocess.run([sys.executable, HELDOUT, "--wedlm", WEDLM, "--devices", "cpu,cpu",
                        "--limit", "16", "--json", str(tmp_path / "h.json")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "cpu text identical to cpu text 16/16" in r.stdout
    report = json.loads((tmp_path / "h.json").read_text())
    assert report["total"]["n"] == 16 and report["total"]["identical"] == 16
    assert report["total"]["cpu_correct"] == report["total"]["cuda_correct"] >= 15
