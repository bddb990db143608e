#!/usr/bin/env bash
# The Debian packages the tests' real node needs (tests/cluster/realnode.py): containerd and runc run its
# pods, containernetworking-plugins gives them their network, mmdebstrap builds the trainer's test image and
# tini is its PID 1. Installs the missing ones with apt-get when run as root; otherwise fails with one line
# naming them and the command that installs them. A no-op when all are there.
# For its test: KUBETRAIN_NODE_ROOT=DIR looks for the packages' files under DIR instead of /, and
# KUBETRAIN_NODE_NO_INSTALL=1 reports instead of installing.
set -euo pipefail
root=${KUBETRAIN_NODE_ROOT:-}

packages=(containerd runc containernetworking-plugins mmdebstrap tini)
# What each package puts on the machine (the probe for "installed", whatever the package manager).
declare -A probe=(
    [containerd]=/usr/bin/containerd [runc]=/usr/sbin/runc
    [containernetworking-plugins]=/usr/lib/cni/bridge [mmdebstrap]=/usr/bin/mmdebstrap [tini]=/usr/bin/tini
)
missing=()
for p in "${packages[@]}"; do
    [[ -x "$root${probe[$p]}" ]] || { [[ -z $root ]] && command -v "${probe[$p]##*/}" >/dev/null 2>&1; } \
        || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

fix="apt-get install -y ${missing[*]}"
if [[ $(id -u) -ne 0 || -n ${KUBETRAIN_NODE_NO_INSTALL:-} ]] || ! command -v apt-get >/dev/null 2>&1; then
    sudo=$([[ $(id -u) -ne 0 ]] && echo "sudo " || true)
    echo "error: the tests' real node needs ${missing[*]}; fix: $sudo$fix" >&2
    exit 1
fi
echo "installing the real node's packages: $fix"
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
# A fresh machine's package lists may be empty or old: refresh them once, then try again.
if ! install 2>/dev/null && ! { echo "refreshing the package lists (apt-get update) ..."; apt-get update -q >/dev/null && install; }; then
    echo "error: could not install ${missing[*]}; fix: apt-get update && $fix" >&2
    exit 1
fi
