"""Checkpoints that are either whole or absent: files first, a manifest of sizes and sha256 last.

Everything here but `state.py` and `callback.py` is torch-free, so `launch checkpoints` can use it.
"""
