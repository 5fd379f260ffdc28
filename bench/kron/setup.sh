#!/usr/bin/env bash
# Adds the Kronecker GP reference to bench/.venv (created by bench/setup.sh): CPU torch
# (from the PyTorch CPU wheel index when it is reachable, else the default PyPI wheel) and
# linear_operator (GPyTorch's KroneckerProductAddedDiagLinearOperator). Idempotent, quiet
# when installed; a failure is recorded in bench/.venv/unavailable/<pkg>.txt.
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/setup.sh" || exit 1
py="$here/.venv/bin/python"
mkdir -p "$here/.venv/unavailable"
if ! "$py" -c "import torch" >/dev/null 2>&1; then
  echo "bench/kron/setup.sh: installing torch (CPU) ..."
  if ! "$py" -m pip install -q --index-url https://download.pytorch.org/whl/cpu torch >/dev/null 2>&1; then
    "$py" -m pip install -q torch >"$here/.venv/unavailable/torch.log" 2>&1 \
      || { echo "pip install torch failed: $(tail -2 "$here/.venv/unavailable/torch.log" | tr '\n' ' ')" >"$here/.venv/unavailable/torch.txt"; }
  fi
fi
if ! "$py" -c "import linear_operator" >/dev/null 2>&1; then
  echo "bench/kron/setup.sh: installing linear_operator ..."
  "$py" -m pip install -q linear_operator >"$here/.venv/unavailable/linear_operator.log" 2>&1 \
    || { echo "pip install linear_operator failed: $(tail -2 "$here/.venv/unavailable/linear_operator.log" | tr '\n' ' ')" >"$here/.venv/unavailable/linear_operator.txt"; }
fi
exit 0
