#!/usr/bin/env bash
# The campaign soak (issue 23 item 5), run by hand and reported: campaigns of GRF runs on the
# supervised local cluster while a random process (nats-server, Temporal, the orchestrator, a
# worker) is SIGKILLed about every GRAMFLEET_SOAK_KILL_EVERY_S seconds (default 40) for MINUTES
# (default 10); then every run must be done exactly once and byte-identical to its float64
# reference (test/src/chaos/soak/campaign-soak.chaos.ts). Not in `npm test`: it runs for minutes
# by design. Run it under the heavy lock so nobody's benchmark is timed beside it:
#
#   flock /work/wt/heavy.lock bash scripts/soak-campaign.sh [MINUTES] [--no-build]
#
# Output (kills, campaigns, the summary line) goes to stdout and to $GRAMFLEET_SOAK_LOG
# (default /tmp/gramfleet-soak-<time>.log). Exit status 0 when it passed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export GRAMFLEET_SOAK_MINUTES="${1:-${GRAMFLEET_SOAK_MINUTES:-10}}"
LOG="${GRAMFLEET_SOAK_LOG:-/tmp/gramfleet-soak-$(date -u +%Y%m%dT%H%M%S).log}"
[ "${2:-}" = "--no-build" ] || npx tsc -b || exit 2
{
  echo "# campaign soak $(date -u +%FT%TZ): ${GRAMFLEET_SOAK_MINUTES} min, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
  node --test --test-reporter=spec test/dist/chaos/soak/campaign-soak.chaos.js
  r=$?
  echo "# campaign soak done $(date -u +%FT%TZ), exit $r, load: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit $r
} 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
