#!/usr/bin/env bash
# The GPU run plan, one device call: on the GPU machine, from the repository root, with .device/
# carried (scripts/device_pack.sh):
#   scripts/device_test.sh [stage...]      (default: every stage, in this order)
#   preflight     the GPU, xz, compute-sanitizer, python3 with torch, cuBLASLt, the packed binaries'
#                 libraries (10 s)
#   tests         the CUDA test binaries; a test SKIPPED counts as a failure here. A kernel test
#                 that fails (or skips) gets memcheck on just the failing tests, and `steps` is
#                 skipped
#   steps         bench/cuda_vs_transformers.py: the floor (copy), 8B-shape steps eager, with
#                 graphs, sampled; the 2048 prefill with and without tiled attention; op times
#   parity        the bundled model's 390 held-out replies on the CPU and the GPU (WeDLM and AR);
#                 the count text; sampled twice with one seed; `serve --device cuda` answering
#   sanitizer     compute-sanitizer memcheck on the kernel tests; racecheck on the attention and
#                 sampling tests
#   transformers  transformers (SDPA, batch 1) on the same shapes, as the reference; the table
# Every step runs under `timeout`, and under the whole run's deadline (DEADLINE seconds from the
# start, default 360: the 6-minute target, leaving room for a second call; 540 at most in a
# 600-second call); a step that fails or times out does not stop the later ones, and steps past
# the deadline are reported as skipped. Logs go to $LOGS (default /tmp/wedlm-device/logs); $OUT (the device
# tool's output folder, at most 8 files back) gets summary.txt, figures.json and logs.tar.gz,
# rewritten after every step. The summary is printed at the end; key figures as they come.
# LD_LIBRARY_PATH is set on the engine's commands only (PyTorch keeps its own CUDA libraries).
set -uo pipefail
start=$(date +%s)
deadline=$((start + ${DEADLINE:-360}))
out="${OUT:-/tmp/wedlm-device/out}"
logs="${LOGS:-/tmp/wedlm-device/logs}"
pack="${PACK_DIR:-/tmp/wedlm-pack}"  # PACK_TAR is unpacked there (tests set both)
mkdir -p "$out" "$logs"
summary="$out/summary.txt"
: > "$summary"
export WEDLM_SOURCE_DIR="$PWD"
eng_libs="$pack/lib:/usr/local/cuda/lib64"
failures=0
kernels_bad=0

note() { echo "$*" | tee -a "$summary"; }

save() {  # what has come so far, to $OUT
  [ -f "$logs/figures.json" ] && cp "$logs/figures.json" "$out/figures.json"
  tar -C "$logs" -czf "$out/logs.tar.gz" . 2>/dev/null
}

# step [--stdout=FILE] NAME SECONDS CMD...: CMD (a program, not a function) under timeout
# (shortened to the deadline), its output in $logs/NAME.log (stdout in FILE when given); the
# result in the summary. Returns CMD's status (124: timed out).
step() {
  local stdout=""
  case "$1" in --stdout=*) stdout=${1#--stdout=}; shift ;; esac
  local name=$1 limit=$2
  shift 2
  local left=$((deadline - $(date +%s) - 10))
  if [ "$left" -lt 15 ]; then
    note "$name: SKIPPED (the run's deadline)"
    failures=$((failures + 1))
    return 125
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0
  t0=$(date +%s)
  if [ -n "$stdout" ]; then
    timeout -k 5 "$limit" "$@" > "$stdout" 2> "$logs/$name.log"
  else
    timeout -k 5 "$limit" "$@" > "$logs/$name.log" 2>&1
  fi
  local rc=$?
  local took
  took=$(($(date +%s) - t0))
  if [ "$rc" -eq 0 ]; then
    note "$name: ok (${took} s)"
  else
    [ "$rc" -eq 124 ] && note "$name: TIMED OUT after ${limit} s" || note "$name: FAILED (exit $rc, ${took} s)"
    tail -5 "$logs/$name.log" | sed 's/^/    /'
    failures=$((failures + 1))
  fi
  save
  return "$rc"
}

# The engine's commands: LD_LIBRARY_PATH set for them alone ("${ENG[@]}" CMD, for step too).
set_eng() { ENG=(env "LD_LIBRARY_PATH=$eng_libs:${LD_LIBRARY_PATH:-}"); }
set_eng

preflight() {
  note "GPU: $(timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used \
    --format=csv,noheader 2>&1 | head -1)"
  local tool
  for tool in xz compute-sanitizer python3; do
    command -v "$tool" > /dev/null && note "preflight: $tool at $(command -v "$tool")" \
      || { note "preflight: $tool MISSING"; failures=$((failures + 1)); }
  done
  step torch_import 30 python3 -c "import torch, transformers; assert torch.cuda.is_available()"
  if ! ldconfig -p 2> /dev/null | grep -q 'libcublasLt\.so\.13' \
    && ! ls /usr/local/cuda/lib64/libcublasLt.so.13* > /dev/null 2>&1; then
    local lt
    lt=$(timeout 10 find / -name 'libcublasLt.so.13*' -not -path '/proc/*' 2> /dev/null | head -1)
    [ -n "$lt" ] && eng_libs="$eng_libs:$(dirname "$lt")" && set_eng
    note "preflight: cuBLASLt ${lt:-NOT FOUND}"
  fi
  local bin missing
  for bin in "$pack"/bin/*; do
    missing=$("${ENG[@]}" ldd "$bin" 2>&1 | grep 'not found')
    [ -z "$missing" ] || { note "preflight: $(basename "$bin") lacks: $missing"; failures=$((failures + 1)); }
  done
  note "preflight: $(ls "$pack/bin" | tr '\n' ' ')"
}

# The gtest summary of a test log: passed, failed and skipped counts; failing names to $2.
gtest_counts() {
  local log=$1
  local passed failed skipped
  passed=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  failed=$(grep -oE '^\[  FAILED  \] [0-9]+ test' "$log" | grep -oE '[0-9]+' || echo 0)
  skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$log" | grep -oE '[0-9]+' || echo 0)
  grep -E '^\[  FAILED  \] [A-Za-z_]+\.[A-Za-z_0-9/]+' "$log" | awk '{print $4}' | sort -u > "$2"
  echo "${passed:-0} ${failed:-0} ${skipped:-0}"
}

tests_stage() {
  local t p f s
  for t in test_cuda_kernels test_cuda_model test_cuda_parity; do
    step "$t" 150 "${ENG[@]}" "$pack/bin/$t"
    read -r p f s <<< "$(gtest_counts "$logs/$t.log" "$logs/$t.failing")"
    note "  $t: $p passed, $f failed, $s skipped"
    if [ "$s" -gt 0 ] || [ "$p" -eq 0 ]; then  # here every test runs: a skip is a failure
      note "  $t: tests SKIPPED (or none passed) on the GPU machine: FAILURE"
      failures=$((failures + 1))
      [ "$t" = test_cuda_kernels ] && kernels_bad=1
    fi
    grep -hE 'agree|departs|cpu-vs-device layer' "$logs/$t.log" | head -40 | sed 's/^/    /'
    if [ -s "$logs/$t.failing" ]; then
      sed 's/^/    failing: /' "$logs/$t.failing" | tee -a "$summary"
      if [ "$t" = test_cuda_kernels ]; then
        kernels_bad=1
        step memcheck_failing 120 "${ENG[@]}" compute-sanitizer --tool memcheck --error-exitcode 9 \
          "$pack/bin/$t" --gtest_filter="$(paste -sd: "$logs/$t.failing")"
        grep -E 'ERROR SUMMARY|Invalid|out of bounds' "$logs/memcheck_failing.log" | head -8
      fi
    fi
  done
}

bench_phases() {  # bench/cuda_vs_transformers.py's phases into figures.json
  local name=$1 limit=$2 phases=$3
  step "$name" "$limit" python3 bench/cuda_vs_transformers.py --phases "$phases" \
    --wedlm "$pack/bin/wedlm" --lib-path "$eng_libs" --json "$logs/figures.json" --timeout 100
  grep -E '^== |^forwards of |^\| (gemm|attention|rms|add_rms|qk_norm|store|silu|embed|sample|row_stats|upload|final|gather)' \
    "$logs/$name.log" | head -60
}

steps_stage() {
  if [ "$kernels_bad" -eq 1 ]; then
    note "steps: SKIPPED (a kernel test failed)"
    return
  fi
  bench_phases steps 330 copy,eager,graphs,prefill,sampled,optimes
}

parity_stage() {
  local mode
  for mode in wedlm ar; do
    step "heldout_$mode" 150 python3 bench/cpu_vs_cuda_heldout.py --wedlm "$pack/bin/wedlm" \
      --lib-path "$eng_libs" --mode "$mode" --timeout 120 --json "$logs/heldout_$mode.json"
    grep -E 'identical|first difference' "$logs/heldout_$mode.log" | head -14 | tee -a "$summary"
  done
  local w="$pack/bin/wedlm" d
  for d in cpu cuda; do
    step --stdout="$logs/count_$d.txt" "count_$d" 60 "${ENG[@]}" "$w" generate -m models/wedlm-tiny -p "Count from 1 to 60." --chat \
      --temperature 0 --device "$d" -n 320
  done
  if [ -s "$logs/count_cuda.txt" ] && cmp -s "$logs/count_cpu.txt" "$logs/count_cuda.txt"; then
    note "count: CUDA text = CPU text"
  else
    note "count: CUDA text differs (or is missing): $(head -c 200 "$logs/count_cuda.txt")"
    failures=$((failures + 1))
  fi
  for k in 1 2; do  # sampled on the device (sample_rows): the same seed twice, the same text
    step --stdout="$logs/sampled_$k.txt" "sampled_$k" 60 "${ENG[@]}" "$w" generate -m models/wedlm-tiny -p "Write a short poem." --chat \
      --temperature 0.8 --top-p 0.95 --seed 5 --device cuda -n 64
  done
  if [ -s "$logs/sampled_1.txt" ] && cmp -s "$logs/sampled_1.txt" "$logs/sampled_2.txt"; then
    note "sampled: same seed, same text"
  else
    note "sampled: same seed, different (or missing) texts"
    failures=$((failures + 1))
  fi
  serve_check
}

# `wedlm serve --device cuda` answers a chat request with the counted reply (the server lives 80
# s at most; the client gives up on it after 60).
serve_check() {
  if [ $((deadline - $(date +%s))) -lt 100 ]; then
    note "serve: SKIPPED (the run's deadline)"
    failures=$((failures + 1))
    return
  fi
  timeout -k 5 80 "${ENG[@]}" "$pack/bin/wedlm" serve -m models/wedlm-tiny --device cuda \
    --port 18080 > "$logs/serve_server.log" 2>&1 &
  local pid=$! rc
  timeout -k 5 75 python3 - > "$logs/serve.log" 2>&1 <<'PY'
import json, sys, time, urllib.request
base = "http://127.0.0.1:18080"
give_up = time.monotonic() + 60
while time.monotonic() < give_up:  # /health answers 200 once the model is loaded
    try:
        if urllib.request.urlopen(base + "/health", timeout=2).status == 200:
            break
    except Exception:
        time.sleep(0.5)
body = {"messages": [{"role": "user", "content": "Count from 1 to 12."}], "temperature": 0}
req = urllib.request.Request(base + "/v1/chat/completions", json.dumps(body).encode(),
                             {"Content-Type": "application/json"})
text = json.load(urllib.request.urlopen(req, timeout=60))["choices"][0]["message"]["content"]
print("serve --device cuda:", repr(text))
sys.exit(0 if text == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12" else 1)
PY
  rc=$?
  kill "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  [ "$rc" -eq 0 ] && note "serve: ok: $(tail -1 "$logs/serve.log")" \
    || { note "serve: FAILED (exit $rc): $(tail -3 "$logs/serve.log" | tr '\n' ' ')"; failures=$((failures + 1)); }
  save
}

sanitizer_stage() {
  step memcheck 150 "${ENG[@]}" compute-sanitizer --tool memcheck --error-exitcode 9 \
    "$pack/bin/test_cuda_kernels"
  grep -E 'ERROR SUMMARY' "$logs/memcheck.log" | tail -1 | tee -a "$summary"
  step racecheck 150 "${ENG[@]}" compute-sanitizer --tool racecheck --error-exitcode 9 \
    "$pack/bin/test_cuda_kernels" \
    --gtest_filter='CudaKernels.*Attention*:CudaKernels.SampleRows*'
  grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$logs/racecheck.log" | tail -1 | tee -a "$summary"
}

transformers_stage() {
  step transformers 150 python3 bench/cuda_vs_transformers.py --phases transformers \
    --json "$logs/figures.json"
  python3 bench/cuda_vs_transformers.py --phases table --json "$logs/figures.json" \
    | tee "$logs/table.md" | tee -a "$summary"
}

rm -rf "$pack" && mkdir -p "$pack"
if ! tar -C "$pack" -xJf "${PACK_TAR:-.device/pack.tar.xz}"; then
  note "the pack ${PACK_TAR:-.device/pack.tar.xz} could not be unpacked (is xz there?): nothing to run"
  save
  exit 1
fi
[ -d "$pack/shared" ] && export WEDLM_SHARED_DIR="$pack/shared"
[ $# -gt 0 ] || set -- preflight tests steps parity sanitizer transformers
for stage in "$@"; do
  echo "== $stage ($(($(date +%s) - start)) s)"
  case "$stage" in
    preflight) preflight ;;
    tests) tests_stage ;;
    steps) steps_stage ;;
    parity) parity_stage ;;
    sanitizer) sanitizer_stage ;;
    transformers) transformers_stage ;;
    *) note "unknown stage $stage"; failures=$((failures + 1)) ;;
  esac
done
note "device_test: $failures failing steps, $(($(date +%s) - start)) s"
save
echo "== summary"
cat "$summary"
[ "$failures" -eq 0 ]
