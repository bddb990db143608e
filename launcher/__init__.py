"""launch: turns experiment configs into Kubernetes Jobs, submits, follows and runs them locally.

The parts, lowest first; each package's docstring says what it may import, and tests/test_layout.py holds
the tree to it (imports run down this list only, and never in a cycle):

- `errors.py`, `output.py`: the one user-facing error type; tables and JSON/YAML documents. Leaves.
- `schema/`: the experiment config models, environment variables and exit codes: the contract with the trainer.
- `config/`: reading a config file with `--set` overrides; run ids, config hashes and labels.
- `render/`: the pure core: a resolved config to the Kubernetes objects of one run.
- `status/`: the one run-status model of local and cluster runs, and its views (tables, JSON).
- `local/`: the local runner (the rendered Job run on this machine) and its run state.
- `cluster/`: the one module that talks to the Kubernetes API, and submit, follow, doctor on top of it.
- `sweeps/`: sweep files, their trials, ranking, and the reconcile pass on a cluster.
- `cli/`: the `launch` command line, one module per command group.
"""
