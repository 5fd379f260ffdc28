#!/usr/bin/env bash
# Installs what bench/gpu needs on a GPU machine, into bench/.venv (created by bench/setup.sh):
#   torch (the PyPI Linux wheel is the CUDA build; it pulls nvidia-cublas-cu12, nvidia-cusolver-cu12, …),
#   nvidia-cublas-cu12 and nvidia-cusolver-cu12 (libcublas / libcusolver for gramfleet's GPU worker),
# and compiles gemm_ref (the same cuBLAS call from C). Writes the library directories to
# bench/.venv/gpu-libdirs.txt. The NVIDIA driver (libcuda.so.1) must already be on the machine.
# Idempotent; prints why when something is unavailable.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
bench="$(cd "$here/.." && pwd)"
py="$bench/.venv/bin/python"
[ -x "$py" ] || python3 -m venv "$bench/.venv" || { echo "bench/gpu/setup.sh: python3 -m venv failed" >&2; exit 1; }
mkdir -p "$bench/.venv/unavailable"
for pkg in torch nvidia-cublas-cu12 nvidia-cusolver-cu12; do
  "$py" -m pip show -q "$pkg" >/dev/null 2>&1 && continue
  echo "bench/gpu/setup.sh: installing $pkg ..." >&2
  "$py" -m pip install -q "$pkg" >"$bench/.venv/unavailable/$pkg.log" 2>&1 \
    && rm -f "$bench/.venv/unavailable/$pkg.log" \
    || { echo "pip install $pkg failed: $(tail -2 "$bench/.venv/unavailable/$pkg.log" | tr '\n' ' ')" >"$bench/.venv/unavailable/$pkg.txt"; cat "$bench/.venv/unavailable/$pkg.txt" >&2; }
done
# library directories of the nvidia-* wheels (cublas, cublasLt, cusolver and its dependencies)
"$py" - >"$bench/.venv/gpu-libdirs.txt" <<'PY'
import glob, os, site
dirs = []
for sp in site.getsitepackages():
    dirs += sorted(d for d in glob.glob(os.path.join(sp, 'nvidia', '*', 'lib')) if os.path.isdir(d))
print(':'.join(dirs))
PY
libdirs="$(cat "$bench/.venv/gpu-libdirs.txt")"
cublas_dir="$(echo "$libdirs" | tr ':' '\n' | grep '/cublas/lib$' | head -1)"
if [ -z "$cublas_dir" ]; then
  echo "no nvidia-cublas-cu12 library directory; gemm_ref not built" > "$bench/.venv/unavailable/gemm_ref.txt"
elif [ ! -x "$bench/.venv/gemm_ref" ] || [ "$here/gemm_ref.c" -nt "$bench/.venv/gemm_ref" ]; then
  if cc -O2 -o "$bench/.venv/gemm_ref" "$here/gemm_ref.c" -L"$cublas_dir" -l:libcublas.so.12 -l:libcuda.so.1 -Wl,-rpath,"$cublas_dir" 2>"$bench/.venv/unavailable/gemm_ref.log"; then
    rm -f "$bench/.venv/unavailable/gemm_ref.txt" "$bench/.venv/unavailable/gemm_ref.log"
  else
    echo "cc gemm_ref.c failed: $(head -3 "$bench/.venv/unavailable/gemm_ref.log" | tr '\n' ' ')" > "$bench/.venv/unavailable/gemm_ref.txt"
    cat "$bench/.venv/unavailable/gemm_ref.txt" >&2
  fi
fi
