#!/usr/bin/env bash
# Installs what bench/eigenpro needs beyond bench/setup.sh: the Debian package
# dataset-fashion-mnist (gzipped IDX files under /usr/share/datasets/fashion-mnist) and PyPI
# scikit-learn-extra (EigenProClassifier) in bench/.venv. Idempotent; a package that will not
# install is reported (bench/.venv/unavailable/<pkg>.txt) and the bench prints it as unavailable.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/../setup.sh"
venv="$here/../.venv"
py="$venv/bin/python"
mkdir -p "$venv/unavailable"
if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  echo "bench/eigenpro/setup.sh: installing Debian dataset-fashion-mnist ..."
  sudo_=""
  [ "$(id -u)" = "0" ] || sudo_="sudo"
  if ! { $sudo_ apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || { $sudo_ apt-get update -q >/dev/null 2>&1 && $sudo_ apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; }; }; then
    echo "apt-get install dataset-fashion-mnist failed" >"$venv/unavailable/dataset-fashion-mnist.txt"
    echo "bench/eigenpro/setup.sh: dataset-fashion-mnist unavailable" >&2
  else
    rm -f "$venv/unavailable/dataset-fashion-mnist.txt"
  fi
fi
for pkg in scikit-learn scikit-learn-extra; do
  m="${pkg//-/_}"; [ "$pkg" = scikit-learn ] && m=sklearn; [ "$pkg" = scikit-learn-extra ] && m=sklearn_extra
  if "$py" -c "import $m" >/dev/null 2>&1; then rm -f "$venv/unavailable/$pkg.txt"; continue; fi
  echo "bench/eigenpro/setup.sh: installing $pkg ..."
  log="$venv/unavailable/$pkg.log"
  if "$py" -m pip install -q "$pkg" >"$log" 2>&1; then
    rm -f "$venv/unavailable/$pkg.txt" "$log"
  else
    reason="$(grep -E 'ERROR|error:' "$log" | head -3 | tr '\n' ' ')"
    echo "pip install $pkg failed: $reason" >"$venv/unavailable/$pkg.txt"
    echo "bench/eigenpro/setup.sh: $pkg unavailable: $reason" >&2
  fi
done
