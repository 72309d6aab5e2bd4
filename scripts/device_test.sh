#!/usr/bin/env bash
# Runs the CUDA tests packed by scripts/device_pack.sh, on the GPU machine, from the repository
# root: each test binary, then the kernel tests again under compute-sanitizer (memcheck).
# Logs go to $OUT when set (the GPU tool's output folder).
set -uo pipefail
out="${OUT:-/tmp/wedlm-device}"
mkdir -p "$out"
export LD_LIBRARY_PATH="$PWD/.device/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export WEDLM_SOURCE_DIR="$PWD"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
status=0
for t in .device/bin/test_cuda_*; do
  "$t" --gtest_brief=1 2>&1 | tee "$out/$(basename "$t").log" | tail -25 || status=1
done
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --tool memcheck --error-exitcode 9 .device/bin/test_cuda_kernels \
    --gtest_brief=1 > "$out/sanitizer.log" 2>&1 || status=1
  tail -5 "$out/sanitizer.log"
fi
exit $status
