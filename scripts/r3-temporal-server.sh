#!/usr/bin/env bash
# Builds the Temporal server (temporal-server) and its SQL schema tool (temporal-sql-tool), at the
# server version the Temporal CLI of .gramfleet/bin embeds, from the Go module proxy into
# .gramfleet/bin, and copies their PostgreSQL schema to .gramfleet/bin/temporal-schema. With them
# and PostgreSQL's server (Debian's postgresql package, installed here when missing), the
# replicated-topology test (test/src/harness/replicated.test.ts) runs Temporal on PostgreSQL;
# without them it runs the CLI's dev server on its SQLite file and prints why.
# Not part of setup.sh: the build took 40+ minutes on the shared, loaded 2-core machine.
#   bash scripts/r3-temporal-server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.gramfleet/bin
V=$("$BIN/temporal" --version | sed -n 's/.*Server \([0-9.]*\).*/v\1/p')
[ -n "$V" ] || { echo "cannot tell the server version of $BIN/temporal (run scripts/setup.sh first)" >&2; exit 1; }
command -v go >/dev/null || { echo "building the Temporal server needs Go (https://go.dev/dl)" >&2; exit 1; }
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "[r3] installing Debian's postgresql (apt-get)"
  (apt-get install -y -qq postgresql || (apt-get update -qq && apt-get install -y -qq postgresql)) >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "[r3] building temporal-server and temporal-sql-tool $V (go install)"
GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath -ldflags="-s -w" "go.temporal.io/server/cmd/server@$V" "go.temporal.io/server/cmd/tools/sql@$V"
install -m 755 "$tmp/server" "$BIN/temporal-server"
install -m 755 "$tmp/sql" "$BIN/temporal-sql-tool"
src="$(go env GOMODCACHE)/go.temporal.io/server@$V/schema/postgresql"
rm -rf "$BIN/temporal-schema"
mkdir -p "$BIN/temporal-schema"
cp -r "$src" "$BIN/temporal-schema/"
chmod -R u+w "$BIN/temporal-schema"
echo "[r3] done: $BIN/temporal-server, $BIN/temporal-sql-tool, $BIN/temporal-schema/postgresql"
