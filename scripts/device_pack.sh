#!/usr/bin/env bash
# Packs built binaries for the GPU machine (it has the CUDA runtime, not this machine's Debian
# libraries) into .device/pack.tar.xz: bin/ the binaries, lib/ the shared libraries they need other
# than the C runtime and CUDA's. .device/ is ignored by git; carry it with the GPU call.
#   scripts/device_pack.sh            # the CUDA tests and the wedlm tool, built portably
#   scripts/device_pack.sh BIN...     # those binaries only
# ../shared/fixtures (the parity test's) are packed too when they are there (+~25 MB); the tree
# travels beside the pack, 64 MiB in all: WITH_SHARED=0 leaves them out.
# The default build is build-device/ with WEDLM_NATIVE=OFF: the GPU machine's processor is not
# this one, and -march=native code can stop there on an instruction it lacks.
# Then, on the GPU machine, from the repository root: scripts/device_test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  cmake -S . -B build-device -DWEDLM_NATIVE=OFF -DWEDLM_CUDA=ON >/dev/null
  cmake --build build-device -j"$(nproc)" --target test_cuda_kernels test_cuda_model \
    test_cuda_parity wedlm
  set -- build-device/tests/cpp/test_cuda_kernels build-device/tests/cpp/test_cuda_model \
    build-device/tests/cpp/test_cuda_parity \
    build-device/src/tools/wedlm
fi
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
stage=$(mktemp -d)
mkdir -p "$stage/bin" "$stage/lib"
for bin in "$@"; do
  cp "$bin" "$stage/bin/"
  ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;;
      libcuda*|libcublas*|libcudart*) ;;  # the GPU machine's own CUDA 13
      *) cp -L "$lib" "$stage/lib/" ;;
    esac
  done
done
parts=(bin lib)
if [ "${WITH_SHARED:-1}" = 1 ] && [ -d ../shared/fixtures ]; then
  mkdir -p "$stage/shared" && cp -r ../shared/fixtures "$stage/shared/" && parts+=(shared)
fi
rm -rf .device && mkdir -p .device
tar -C "$stage" -cJf .device/pack.tar.xz "${parts[@]}"
rm -rf "$stage"
du -h .device/pack.tar.xz
tree=$(git ls-files -z | xargs -0 du -cb 2> /dev/null | tail -1 | cut -f1)
echo "with the tracked tree: $(((tree + $(stat -c %s .device/pack.tar.xz)) / 1048576)) MiB of the 64 MiB a device call carries"
