#!/usr/bin/env bash
# Creates bench/.venv and installs the reference systems (ray, numpy, scipy, fast-graph-gp).
# Idempotent; quiet when everything is already installed. A package that will not install
# is reported with the reason (kept in bench/.venv/unavailable/<pkg>.txt) and skipped; the
# benches then print that reference figure as unavailable with the same reason.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
py="$venv/bin/python"
if [ ! -x "$py" ]; then
  python3 -m venv "$venv" || { echo "bench/setup.sh: python3 -m venv failed" >&2; exit 1; }
fi
mkdir -p "$venv/unavailable"
# import name for each PyPI package
declare -A mod=( [numpy]=numpy [scipy]=scipy [ray]=ray [fast-graph-gp]=fast_graph_gp )
for pkg in numpy scipy ray fast-graph-gp; do
  m="${mod[$pkg]}"
  if "$py" -c "import $m" >/dev/null 2>&1 || "$py" -m pip show -q "$pkg" >/dev/null 2>&1; then
    rm -f "$venv/unavailable/$pkg.txt"
    continue
  fi
  echo "bench/setup.sh: installing $pkg ..."
  log="$venv/unavailable/$pkg.log"
  if "$py" -m pip install -q "$pkg" >"$log" 2>&1; then
    rm -f "$venv/unavailable/$pkg.txt" "$log"
  else
    reason="$(grep -E 'ERROR|error:' "$log" | head -3 | tr '\n' ' ')"
    [ -n "$reason" ] || reason="$(tail -3 "$log" | tr '\n' ' ')"
    echo "pip install $pkg failed: $reason" >"$venv/unavailable/$pkg.txt"
    echo "bench/setup.sh: $pkg unavailable: $reason" >&2
  fi
done
