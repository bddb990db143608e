#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) and the
# kubelet of the tests' real node (tests/cluster/realnode.py) from the official Go modules at the versions
# pinned in versions.env, once, into
#   ${KUBETRAIN_CACHE:-~/.cache/kubetrain}/controlplane-<versions>/bin
# A second run finds the stamp and builds nothing. `build.sh --print-bin` prints that folder and exits.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
cache="${KUBETRAIN_CACHE:-$HOME/.cache/kubetrain}"
root="$cache/controlplane-$key"
bin="$root/bin"
# A folder that lacks any of these (an older cache without the kubelet) is incomplete and is rebuilt.
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubelet)

if [[ "${1:-}" == "--print-bin" ]]; then
    echo "$bin"
    exit 0
fi

up_to_date() {
    [[ -f "$bin/.stamp" ]] || return 1
    for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

if up_to_date; then
    echo "control plane up to date: $bin"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    cat >&2 <<EOF
ERROR: the tests need a real Kubernetes control plane, built from source with Go, and 'go' is not on PATH.
Fix: install Go >= 1.26 (https://go.dev/dl/), make sure the Go module proxy is reachable
(GOPROXY, default https://proxy.golang.org), then run:  make controlplane
EOF
    exit 1
fi

mkdir -p "$root"
# One build at a time per cache folder: two `make test` runs sharing a cache must not interleave writes.
exec 9>"$root/build.lock"
if ! flock -n 9; then
    # Say who holds it: a silent wait of many minutes looks like a hang.
    holder=$(fuser "$root/build.lock" 2>/dev/null | xargs -n1 2>/dev/null | grep -vx "$$" | head -n1 || true)
    echo "another build of this control plane is running${holder:+ (pid $holder: $(ps -o args= -p "$holder" 2>/dev/null | cut -c1-80))};" \
         "waiting for it to finish (lock: $root/build.lock) ..." >&2
    flock 9
fi
if up_to_date; then
    echo "control plane up to date: $bin (built by another process)"
    exit 0
fi

# Static binaries without paths or symbols of this machine; the version variables are the ones the Kubernetes
# release build stamps (hack/lib/version.sh), so `--version` and /version report the real release.
export CGO_ENABLED=0
# The go.mod files name Go 1.26; let an older local go fetch a matching toolchain instead of failing.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    minor=${KUBERNETES_VERSION#v1.}
    k8s_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*}"
    k8s_ldflags+=" -X $pkg.gitTreeState=clean"
done

staging="$root/bin.partial"
rm -rf "$staging"
mkdir -p "$staging"

step() {  # step NAME MODULE_DIR LDFLAGS PACKAGE...
    local name=$1 dir=$2 ldflags=$3
    shift 3
    local start=$SECONDS
    echo "building $name ($dir) ..."
    # -buildvcs=false: these folders sit in our git checkout, whose commit says nothing about the binaries.
    (cd "$here/$dir" && go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$staging/" "$@")
    echo "built $name in $((SECONDS - start)) s"
}

total=$SECONDS
# Sequential on purpose: one `go build` already uses every core, and two at once only add memory pressure.
# The package path kubetrain.local/controlplane/etcd names the binary etcd.
step etcd etcd "-s -w" .
step kwok kwok "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" sigs.k8s.io/kwok/cmd/kwok
step kubernetes kubernetes "$k8s_ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubelet

# Publish atomically: a half-built folder never looks complete to the tests.
rm -rf "$bin"
mv "$staging" "$bin"
echo "$key built $(date -u +%FT%TZ) with $(go env GOVERSION)" >"$bin/.stamp"
echo "control plane built in $((SECONDS - total)) s: $bin"
