#!/usr/bin/env bash
# Installs the envtest control plane (etcd + kube-apiserver, no kubelet) and helm into
# .gramfleet/bin.
# Idempotent: does nothing when both binaries of the pinned version are there.
#
# Both are built from the Go module proxy. `go install` refuses modules with replace
# directives (k8s.io/kubernetes replaces its staging modules with ./staging/..., etcd's server
# module replaces its siblings with ../...), so this script generates a throwaway Go module in
# a temp dir that requires k8s.io/kubernetes and replaces every staging module k8s.io/<name>
# with its published v0.<minor>.<patch> version, then `go build`s kube-apiserver and, from the
# same module graph, etcd (the etcd server version Kubernetes itself depends on).
#   bash scripts/k8s-envtest.sh          install if missing; prints nothing when done already
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.gramfleet/bin"
K8S_VERSION="${GF_K8S_VERSION:-v1.36.3}"
HELM_VERSION="${GF_HELM_VERSION:-v3.22.0}"
STAMP="$BIN/.k8s-envtest-$K8S_VERSION"
say() { echo "[k8s-envtest] $*" >&2; }

command -v go >/dev/null 2>&1 || { say "go is not installed; cannot build kube-apiserver/etcd/helm"; exit 1; }
mkdir -p "$BIN"
# helm (renders the chart in the tests): its module has no replace directives, so go install works
if [ ! -x "$BIN/helm" ] || [ ! -f "$BIN/.helm-$HELM_VERSION" ]; then
  start=$(date +%s)
  say "building helm $HELM_VERSION (go install from the Go module proxy)"
  CGO_ENABLED=0 GOBIN="$BIN" GOFLAGS=-mod=mod nice -n 10 go install -trimpath -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  rm -f "$BIN"/.helm-*
  touch "$BIN/.helm-$HELM_VERSION"
  say "helm built in $(( $(date +%s) - start ))s"
fi
if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ] && [ -f "$STAMP" ]; then exit 0; fi
# staging modules are published as v0.<minor>.<patch> for k8s v1.<minor>.<patch>
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
start=$(date +%s)
say "building kube-apiserver $K8S_VERSION and etcd from the Go module proxy (several minutes on a cold cache)"
export GOFLAGS=-mod=mod GOWORK=off
go mod init gramfleet.local/k8s-envtest >/dev/null 2>&1
# the replace lines of k8s.io/kubernetes' own go.mod name every staging module
modfile="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[ -f "$modfile" ] || { say "could not download k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
goversion="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile")"
go mod edit -go="$goversion" -require="k8s.io/kubernetes@$K8S_VERSION"
for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$modfile"); do
  go mod edit -replace="$m=$m@$STAGING_VERSION"
done
etcd_version="$(sed -n 's#^[[:space:]]*go.etcd.io/etcd/server/v3 \(v[^ ]*\).*#\1#p' "$modfile")"
go mod edit -require="go.etcd.io/etcd/server/v3@$etcd_version"
# resolve the graph, then build both binaries (static, no cgo)
CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags='-s -w' -o "$tmp/etcd" go.etcd.io/etcd/server/v3
"$tmp/kube-apiserver" --version >&2
"$tmp/etcd" --version | head -1 >&2
mv -f "$tmp/kube-apiserver" "$BIN/kube-apiserver"
mv -f "$tmp/etcd" "$BIN/etcd"
rm -f "$BIN"/.k8s-envtest-*
touch "$STAMP"
say "built in $(( $(date +%s) - start ))s (etcd $etcd_version)"
