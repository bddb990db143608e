"""A real Kubernetes control plane for the tests: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, built from the official sources by controlplane/build.sh.

Entry points: the pytest fixtures in fixtures.py, and `python -m tests.cluster` (`make cluster`).
"""
