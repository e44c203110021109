#!/usr/bin/env bash
# venv.sh — prints the python of a virtualenv with PyFlink (requirements.txt) installed, made once and
# kept in ${PARTOO_FLINK_VENV:-~/.cache/partoo-flink/venv-<hash of requirements>}.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hash=$(sha256sum "$here/requirements.txt" | cut -c1-12)
venv=${PARTOO_FLINK_VENV:-$HOME/.cache/partoo-flink/venv-$hash}
if [[ ! -x "$venv/bin/python" ]] || [[ ! -f "$venv/.complete" ]]; then
  command -v python3 >/dev/null || { echo "venv.sh: python3 not found" >&2; exit 1; }
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" >&2 || { echo "venv.sh: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install -q -r "$here/requirements.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
