"""The local runner: the rendered Job, executed on this machine with the same contract and semantics."""
