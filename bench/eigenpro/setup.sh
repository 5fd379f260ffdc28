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
# EigenProClassifier calls check_X_y(force_all_finite=...), which newer scikit-learn removed:
# keep scikit-learn below 1.6 in this venv.
if ! "$py" -c "import sklearn, sys; sys.exit(0 if tuple(map(int, sklearn.__version__.split('.')[:2])) < (1, 6) else 1)" >/dev/null 2>&1; then
  echo "bench/eigenpro/setup.sh: installing scikit-learn<1.6 ..."
  "$py" -m pip install -q "scikit-learn<1.6" >"$venv/unavailable/scikit-learn.log" 2>&1 || echo "pip install scikit-learn<1.6 failed" >"$venv/unavailable/scikit-learn.txt"
fi
for pkg in scikit-learn-extra; do
  m=sklearn_extra
  if "$py" -m pip show -q "$pkg" >/dev/null 2>&1; then rm -f "$venv/unavailable/$pkg.txt"; continue; fi
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
