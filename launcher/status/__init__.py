"""The one run-status model that local and cluster runs share (`model.py`), and its views: kubectl-like
tables and the `-o json|yaml` documents (`table.py`). Built by `local/status.py` and `cluster/runstatus.py`.

May import: output.
"""
