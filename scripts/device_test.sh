#!/usr/bin/env bash
# On the GPU machine, from the repository root, with .device/ carried (scripts/device_pack.sh):
#   scripts/device_test.sh [tests] [tools] [bench]     (default: tests tools)
# tests: the CUDA test binaries, then the kernel tests under compute-sanitizer (memcheck);
# tools: `wedlm generate` on the bundled model, CUDA against CPU, and sampled twice with one seed;
#        `wedlm serve --device cuda` answering one chat request;
# bench: bench/cuda_vs_transformers.py (WeDLM-8B shape, this engine against transformers).
# Logs and figures go to $OUT when set (the GPU tool's output folder).
set -uo pipefail
out="${OUT:-/tmp/wedlm-device}"
mkdir -p "$out"
pack=/tmp/wedlm-pack
rm -rf "$pack" && mkdir -p "$pack" && tar -C "$pack" -xJf .device/pack.tar.xz
export LD_LIBRARY_PATH="$pack/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export WEDLM_SOURCE_DIR="$PWD"
[ -d "$pack/shared" ] && export WEDLM_SHARED_DIR="$pack/shared"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader
[ $# -gt 0 ] || set -- tests tools
status=0
for stage in "$@"; do
  echo "== $stage"
  case "$stage" in
    tests)
      for t in "$pack"/bin/test_cuda_*; do
        "$t" 2>&1 | tee "$out/$(basename "$t").log" | grep -E "^\[  (FAILED|PASSED|SKIPPED)|Failure|error" \
          | head -30
        [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
      done
      compute-sanitizer --tool memcheck --error-exitcode 9 "$pack/bin/test_cuda_kernels" \
        > "$out/sanitizer.log" 2>&1 || status=1
      grep -E "ERROR SUMMARY|PASSED|FAILED" "$out/sanitizer.log" | tail -3 ;;
    tools)
      w="$pack/bin/wedlm"
      for d in cpu cuda; do
        "$w" generate -m models/wedlm-tiny -p "Count from 1 to 60." --chat --temperature 0 --device "$d" -n 320 \
          > "$out/count_$d.txt" 2> "$out/count_$d.err" || status=1
        tail -1 "$out/count_$d.err"
      done
      cmp -s "$out/count_cpu.txt" "$out/count_cuda.txt" && echo "count: CUDA text = CPU text" \
        || { echo "count: CUDA text differs:"; head -c 300 "$out/count_cuda.txt"; echo; }
      for k in 1 2; do  # sampled on the device (sample_rows): the same seed twice, the same text
        "$w" generate -m models/wedlm-tiny -p "Write a short poem." --chat --temperature 0.8 \
          --top-p 0.95 --seed 5 --device cuda -n 64 > "$out/sampled_$k.txt" 2>> "$out/sampled.err" \
          || status=1
      done
      cmp -s "$out/sampled_1.txt" "$out/sampled_2.txt" && echo "sampled: same seed, same text" \
        || { echo "sampled: same seed, different texts"; status=1; }
      "$w" serve -m models/wedlm-tiny --device cuda --port 18080 > "$out/serve.log" 2>&1 &
      pid=$!
      python3 - "$out/serve_reply.json" <<'PY' || status=1
import json, sys, time, urllib.request
base = "http://127.0.0.1:18080"
for _ in range(120):  # the server answers /health with 200 once the model is loaded
    try:
        if urllib.request.urlopen(base + "/health", timeout=2).status == 200:
            break
    except Exception:
        time.sleep(0.5)
body = {"messages": [{"role": "user", "content": "Count from 1 to 12."}], "temperature": 0}
req = urllib.request.Request(base + "/v1/chat/completions", json.dumps(body).encode(),
                             {"Content-Type": "application/json"})
reply = json.load(urllib.request.urlopen(req, timeout=60))
open(sys.argv[1], "w").write(json.dumps(reply))
text = reply["choices"][0]["message"]["content"]
print("serve --device cuda:", repr(text))
sys.exit(0 if text == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12" else 1)
PY
      kill "$pid"; wait "$pid" ;;
    bench)
      PYTHONUNBUFFERED=1 python3 bench/cuda_vs_transformers.py --wedlm "$pack/bin/wedlm" \
        --out "$out" 2>&1 | tee "$out/bench.log" | tail -12 ;;
    *) echo "unknown stage $stage"; status=2 ;;
  esac
done
exit $status
