#!/usr/bin/env bash
# Packs built binaries for the GPU machine (which has the CUDA runtime but not this machine's
# Debian libraries) into .device/: bin/ the binaries, lib/ the shared libraries they need that are
# neither the C runtime nor CUDA's. .device/ is ignored by git, so it travels only when carried.
#   scripts/device_pack.sh build/tests/cpp/test_cuda_kernels build/tests/cpp/test_cuda_model
# then on the GPU machine (repository root): scripts/device_test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
rm -rf .device && mkdir -p .device/bin .device/lib
for bin in "$@"; do
  cp "$bin" .device/bin/
  ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;;
      libcuda*|libcublas*|libcudart*) ;;  # the GPU machine's own CUDA 13
      *) cp -L "$lib" .device/lib/ ;;
    esac
  done
done
du -sh .device
