"""Hyper-parameter sweeps: the sweep file (`schema.py`, `loading.py`), its deterministic expansion into
trials (`expand.py`), ranking (`rank.py`), and on a cluster the reconcile pass that creates missing trials
without ever duplicating one (`reconcile.py`) and the sweep's status (`cluster_status.py`).

May import: cluster, config, render, schema, errors.
"""
