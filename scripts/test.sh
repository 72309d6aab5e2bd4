#!/usr/bin/env bash
# Sets up, builds and runs every test: the C++ suites (CTest), then the Python suite (pytest).
# Usage: scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
# The npm oracles: the Qwen2.5 tokenizer of the C++ golden test and the live tokenizer
# differential test (both skipped with a message without them)
# and the official openai SDK of the server tests
if command -v npm >/dev/null; then
  for d in tests/oracle tests/server; do
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error) || echo "test.sh: npm ci in $d failed"
  done
fi
# Suites run side by side, each with OpenMP on every core: waiting threads sleep instead of
# spinning, or two suites' spinning threads can starve each other (one run took 17 min, not 7)
(cd build && OMP_WAIT_POLICY=passive ctest --output-on-failure -j"$(nproc)")
# Debian's interpreter, where setup.sh installs numpy/regex/pytest (a pyenv python3 may shadow it)
/usr/bin/python3 -m pytest -q -rs tests/python training/test_objective.py "$@"
# The same C++ and server suites under ASan + UBSan (CI runs them: WEDLM_SANITIZERS=1)
if [ "${WEDLM_SANITIZERS:-0}" = 1 ]; then scripts/test_sanitizers.sh; fi
# The libFuzzer harnesses, each for FUZZ_SECONDS from its seed corpus (CI: WEDLM_FUZZ=1)
if [ "${WEDLM_FUZZ:-0}" = 1 ]; then scripts/fuzz.sh; fi
