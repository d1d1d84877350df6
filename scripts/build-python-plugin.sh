#!/usr/bin/env bash
# Builds a Python plugin into a WebAssembly component with componentize-py, from the
# repo's wit/ (bindings are generated on the fly, never committed), installing the
# pinned componentize-py with pip first if it is missing or another version.
#   usage: scripts/build-python-plugin.sh SOURCE_DIR WORLD OUTPUT.wasm
# SOURCE_DIR holds the plugin's `app.py`; WORLD is one of wit/plugin.wit's worlds
# (`admission-plugin`, ...). WASI imports are stubbed out (--stub-wasi): the host grants
# a plugin nothing but `keel:plugin/host`. Idempotent: a rerun rebuilds OUTPUT.
set -euo pipefail

VERSION=0.25.1

if [ $# -ne 3 ]; then
  echo "usage: $0 SOURCE_DIR WORLD OUTPUT.wasm" >&2
  exit 2
fi
src=$1 world=$2 out=$3
wit="$(cd "$(dirname "$0")/.." && pwd)/wit"
[ -f "$src/app.py" ] || { echo "build-python-plugin: no app.py in $src" >&2; exit 1; }

if ! componentize-py --version 2>/dev/null | grep -qx "componentize-py $VERSION"; then
  echo "build-python-plugin: installing componentize-py $VERSION" >&2
  python3 -m pip install --quiet "componentize-py==$VERSION"
  hash -r
fi

# Build from a copy: componentize-py writes __pycache__/ next to the sources.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -R "$src/." "$tmp/"
mkdir -p "$(dirname "$out")"
componentize-py --quiet -d "$wit" -w "$world" componentize --stub-wasi -p "$tmp" app -o "$out"
