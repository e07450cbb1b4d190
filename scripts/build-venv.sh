#!/usr/bin/env bash
# Build livc's wheel from a source tree and install it, with its dependencies from PyPI, into a
# new virtual environment. The Dockerfile's build stage runs exactly this, and so does
# tests/test_wheel.py (which then starts web, worker, cron and the custodian from that venv):
# the test proves the image's steps on a machine without a Docker engine.
#
# The wheel compiles the translation catalogues (.po -> .mo) in its build (setup.py) and ships
# the stylesheet from platform/static/build/: build it first (scripts/build-frontend.sh, node);
# setup.py builds it itself when it is missing, which needs node and npm.
#
# Usage: scripts/build-venv.sh VENV [WHEEL_DIR]
#   PYTHON (default python3) makes the venv; PIP_NO_CACHE_DIR=1 etc. reach pip as usual.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 VENV [WHEEL_DIR]" >&2; exit 2; }
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$1"
dist="${2:-$src/dist}"
python="${PYTHON:-python3}"

say() { echo "build-venv: $*" >&2; }

# The wheel alone (its build requirements, setuptools and babel, in pip's isolated build env).
rm -f "$dist"/livc-*.whl
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$dist" "$src"
wheel="$(ls "$dist"/livc-*.whl)"
say "built $wheel"

# A clean venv with the wheel and its dependencies (binary wheels only: no compiler needed).
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --only-binary=:all: "$wheel"
say "installed $("$venv/bin/livc" --help >/dev/null && echo livc) into $venv"
