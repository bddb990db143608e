"""The sweep file: a base experiment config, a grid and/or a random search over its fields, how many trials
may run at once, and the metric that ranks them. Pure pydantic, like launcher/schema/models.py.

Example (configs/sweeps/bert-lr.yaml):

    kind: Sweep
    name: bert-lr
    base: {config: ../bert.yaml, overrides: {train.epochs: 2}}
    grid: {train.lr: [1.0e-5, 3.0e-5]}
    random: {n: 2, seed: 7, params: {train.weight_decay: {kind: uniform, low: 0.0, high: 0.1}}}
    max_parallel: 2
    metric: {name: test_accuracy, goal: max}

Paths such as `train.lr` are checked against the experiment schema when the sweep is loaded
(launcher/sweeps/loading.py), since only the base config tells which paths exist.
"""

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ..schema.base import Name, Section

SWEEP_NAME_MAX = 40  # <sweep>-<8 hex> plus the Job's pod suffix must fit a 63-character DNS label
ConfigPath = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*(\.[A-Za-z0-9_./-]+)*$", examples=["train.lr"])]


class Base(Section):
    """The experiment every trial starts from."""

    config: str
    """Experiment YAML, relative to the sweep file's folder (or absolute)."""
    overrides: dict[ConfigPath, Any] = {}
    """Fields set on every trial, by dotted path: {train.epochs: 2}. Values are YAML values, not text."""


class Param(Section):
    """One dimension of the random search."""

    kind: Literal["choice", "uniform", "loguniform", "int"]
    """choice: one of `values`; uniform / loguniform: a float in [low, high]; int: an integer in [low, high]."""
    values: list[Any] | None = Field(None, min_length=1)
    """The values `choice` picks from (choice only)."""
    low: float | None = None
    """Lower bound (uniform, loguniform, int); loguniform needs it above 0."""
    high: float | None = None
    """Upper bound, inclusive (uniform, loguniform, int); at least `low`."""

    @model_validator(mode="after")
    def _consistent(self) -> "Param":
        if self.kind == "choice":
            if self.values is None or self.low is not None or self.high is not None:
                raise ValueError("choice takes `values` (a non-empty list) and no low/high")
            return self
        if self.values is not None or self.low is None or self.high is None:
            raise ValueError(f"{self.kind} takes `low` and `high` and no values")
        if self.low > self.high:
            raise ValueError(f"low {self.low:g} is above high {self.high:g}")
        if self.kind == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform needs low > 0 (got {self.low:g})")
        if self.kind == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(f"int takes whole bounds (got {self.low:g}, {self.high:g})")
        return self


class Random(Section):
    """A random search: `n` points drawn from `params` with `seed`; the same seed draws the same points."""

    n: int = Field(gt=0, le=10_000)
    """Points to draw (crossed with every grid point when a grid is given too)."""
    seed: int = 0
    """Seed of the draws: change it for other points."""
    params: dict[ConfigPath, Param] = Field(min_length=1)
    """The distribution of each searched path: {train.lr: {kind: loguniform, low: 1.0e-6, high: 1.0e-4}}."""


class Metric(Section):
    """The metric that ranks trials, as the trainer reports it in its termination message."""

    name: str
    """Metric name, e.g. test_accuracy or validation_loss."""
    goal: Literal["max", "min"] = "max"
    """max: the highest value is best; min: the lowest."""


class Sweep(Section):
    """A hyper-parameter sweep: each trial is a full experiment named <sweep>-<hash of its resolved config>."""

    kind: Literal["Sweep"]
    """Always Sweep: what tells `launch validate` a sweep file from an experiment config."""
    name: Annotated[Name, Field(max_length=SWEEP_NAME_MAX)]
    """Sweep name: the prefix of every trial's run id and the value of the kubetrain.dev/sweep label."""
    base: Base
    """The base experiment and the overrides every trial shares."""
    grid: dict[ConfigPath, Annotated[list[Any], Field(min_length=1)]] = {}
    """Every combination of these values is a trial: {train.lr: [1.0e-5, 3.0e-5], train.batch_size: [16, 32]}."""
    random: Random | None = None
    """A random search, alone or crossed with the grid."""
    max_parallel: int = Field(gt=0)
    """Trials unsuspended at once; the others wait suspended. Ignored when the base config names a Kueue
    queue (scheduling.queue): Kueue admits them instead."""
    metric: Metric | None = None
    """The metric that ranks the trials; none: trials are listed by run id."""

    @model_validator(mode="after")
    def _searches_something(self) -> "Sweep":
        if not self.grid and self.random is None:
            raise ValueError("grid: a sweep needs a grid, a random search or both")
        overlap = sorted(set(self.grid) & set(self.random.params if self.random else {}))
        if overlap:
            raise ValueError(f"grid.{overlap[0]}: searched by both grid and random; keep one")
        return self
