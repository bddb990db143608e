"""The local runner: the rendered Job, executed on this machine with the same environment contract and the
Job controller's semantics (one process per completion index, replacement, back-off, podFailurePolicy);
its run state on disk, its mapping to the run-status model, and the quickstart's demo data.

May import: config, render, status, schema.
"""
