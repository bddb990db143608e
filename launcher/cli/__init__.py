"""The `launch` command line (Typer), one module per command group: `app.py` (the commands), `options.py`
(shared options), `local.py` (local runs), `validate.py`, `sweep.py`, `checkpoints.py`, `data.py`. Heavy
modules are imported inside commands so `launch --help` stays fast. Nothing imports the CLI.

May import: sweeps, cluster, local, config, render, status, schema, errors, output, and the torch-free
trainer.checkpoints catalog.
"""
