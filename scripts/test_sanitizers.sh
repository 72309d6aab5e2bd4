#!/usr/bin/env bash
# The C++ suites and the server tests on an AddressSanitizer + UndefinedBehaviorSanitizer build
# (build-asan/, CPU only): any report fails the run. Called by scripts/test.sh when
# WEDLM_SANITIZERS=1 (CI sets it); about 8 minutes of build and 5 of tests on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEDLM_CUDA=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
# not the soak: ASan's allocator holds freed memory in quarantine, so RSS says nothing there
(cd build-asan && OMP_WAIT_POLICY=passive ctest --output-on-failure -j"$(nproc)" -E server_soak)
