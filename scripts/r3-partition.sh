#!/usr/bin/env bash
# The replicated-topology test with its long fault: a worker host partitioned for 30 s (its
# link taken down, then up) mid-job, besides the NATS stream-leader SIGKILL that npm test runs.
# Needs root (network namespaces). Runs under the shared heavy lock where there is one; prints
# the load average.
#   bash scripts/r3-partition.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
lock=()
[ -e /work/wt/heavy.lock ] && lock=(flock /work/wt/heavy.lock)
GRAMFLEET_R3_PARTITION=1 "${lock[@]}" node scripts/run-tests.js harness/replicated
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
