"""Experiment config files as the user writes them: YAML read with `--set` overrides into a validated
`Experiment` (every mistake one line with file:line and YAML path), and the identities derived from the
resolved config (config hash, run id, labels). No clock, network or cluster.

May import: schema, errors.
"""
