#!/usr/bin/env bash
# Sets up, builds and runs `wedlm generate` on the bundled model with one chat message.
#   scripts/run.sh "Count from 1 to 60." [more wedlm generate flags, e.g. --mode ar -n 128]
set -euo pipefail
cd "$(dirname "$0")/.."
text=${1:?usage: scripts/run.sh "MESSAGE" [wedlm generate flags]}; shift
scripts/setup.sh >/dev/null
[ -x build/src/tools/wedlm ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null &&
                                  cmake --build build -j"$(nproc)" --target wedlm >/dev/null; }
exec build/src/tools/wedlm generate -p "$text" --chat --temperature 0 -n 256 "$@"
