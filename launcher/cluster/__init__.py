"""Runs on a Kubernetes cluster: `api.py` is the one module that talks to the API server (its client passed
in); submit, follow, cancel, resume and doctor build on it, and `runstatus.py` maps API objects to the
shared run-status model (pure).

May import: config, render, status, schema, errors, output.
"""
