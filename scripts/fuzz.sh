#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, clang-14, ASan + UBSan) in build-fuzz/ and runs each for
# FUZZ_SECONDS (default 45) from its seed corpus (fuzz/corpus/<name>, read-only; what the run
# finds goes to build-fuzz/corpus/<name>). A crash, leak or sanitizer report fails the run and
# leaves its input in build-fuzz/artifacts/: turn it into a regression test.
# Usage: scripts/fuzz.sh [name ...]   (names: http_request tokenizer safetensors model_config
# openai_request json_schema; default all). Called by scripts/test.sh when WEDLM_FUZZ=1 (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http_request tokenizer safetensors model_config openai_request json_schema)
seconds="${FUZZ_SECONDS:-45}"
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWEDLM_CUDA=OFF -DWEDLM_FUZZ=ON -DBUILD_TESTING=OFF -DWEDLM_NATIVE=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
mkdir -p build-fuzz/artifacts
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  echo "fuzz: $t for ${seconds} s"
  status=0
  build-fuzz/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-" \
    "build-fuzz/corpus/$t" "fuzz/corpus/$t" >"build-fuzz/$t.log" 2>&1 || status=$?
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|SUMMARY)|ERROR" "build-fuzz/$t.log" || true
  if [ "$status" != 0 ]; then
    tail -40 "build-fuzz/$t.log"
    echo "fuzz: $t FAILED (exit $status); inputs in build-fuzz/artifacts/"
    exit 1
  fi
done
echo "fuzz: ok (${targets[*]})"
