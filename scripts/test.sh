#!/usr/bin/env bash
# Sets up and runs every test. Usage: scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Debian's interpreter, where setup.sh installs numpy/regex/pytest (a pyenv python3 may shadow it)
exec /usr/bin/python3 -m pytest -q -rs tests/python training/test_objective.py "$@"
