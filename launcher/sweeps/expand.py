"""Expand a sweep into its trials, deterministically: grid points x random draws, each resolved into a full
experiment whose run id is <sweep>-<config hash> (launcher/config/identity.py). The order of keys, of grid values
and of choice values never changes the trials: paths are sorted, and values are sorted by their JSON text
before anything depends on their order."""

import copy
import itertools
import json
import math
import random
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError
from ..config.identity import run_id_for
from ..schema import Experiment
from ..schema.errors import describe, dotted
from .loading import LoadedSweep, config_keys
from .schema import Param, Random, Sweep

FLOAT_DIGITS = 6  # random floats are rounded to 6 significant digits: readable, and the same on every machine


@dataclass(frozen=True)
class Trial:
    """One experiment of a sweep. `values`: the searched paths and their values for this trial
    ({"train.lr": 3e-05}); `run_id`: <sweep>-<hash of the resolved config>."""

    run_id: str
    values: dict[str, Any]
    experiment: Experiment


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, as {path: value}; [{}] for an empty grid. Duplicate values
    count once."""
    paths = sorted(grid)
    columns = [sorted({_canonical(v): v for v in grid[p]}.values(), key=_canonical) for p in paths]
    return [dict(zip(paths, combo)) for combo in itertools.product(*columns)]


def draw(param: Param, rng: random.Random) -> Any:
    """One value of `param` from `rng`."""
    if param.kind == "choice":
        return rng.choice(sorted(param.values, key=_canonical))
    if param.kind == "int":
        return rng.randint(int(param.low), int(param.high))
    if param.kind == "uniform":
        value = rng.uniform(param.low, param.high)
    else:
        value = math.exp(rng.uniform(math.log(param.low), math.log(param.high)))
    return float(f"{value:.{FLOAT_DIGITS}g}")


def random_points(search: Random | None) -> list[dict[str, Any]]:
    """`search.n` draws {path: value}, params in sorted path order from Random(seed); [{}] without a search."""
    if search is None:
        return [{}]
    rng = random.Random(search.seed)
    return [{path: draw(search.params[path], rng) for path in sorted(search.params)} for _ in range(search.n)]


def points(sweep: Sweep) -> list[dict[str, Any]]:
    """Grid points x random draws: len(grid points) * n trials' values (before duplicates merge)."""
    return [{**g, **r} for g in grid_points(sweep.grid) for r in random_points(sweep.random)]


def set_path(raw: dict, path: str, value: Any) -> None:
    """Set dotted `path` in the raw config mapping, creating sections on the way."""
    *parents, last = config_keys(path)
    node = raw
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = copy.deepcopy(value)


def resolve(loaded: LoadedSweep, values: dict[str, Any]) -> Trial:
    """The trial with `values` over the base config and its overrides, named after the sweep. Raises
    ConfigError naming the sweep file's line and key when a value does not fit its field."""
    sweep = loaded.sweep
    raw = copy.deepcopy(loaded.base)
    for path, value in sorted({**sweep.base.overrides, **values}.items()):
        set_path(raw, path, value)
    raw["name"], raw["sweep"] = sweep.name, sweep.name
    try:
        experiment = Experiment.model_validate(raw)
        return Trial(run_id_for(experiment), dict(sorted(values.items())), experiment)
    except ValidationError as exc:
        raise ConfigError(_misfit(loaded, values, exc)) from None
    except ValueError as exc:  # the run id would make pod names too long
        raise ConfigError(f"{loaded.where('name')}: name: {exc}") from None


def _misfit(loaded: LoadedSweep, values: dict[str, Any], exc: ValidationError) -> str:
    """One line for a trial the experiment schema refuses: at the sweep key that set the bad field."""
    loc, message = describe(exc)
    for section, keys in ((("base", "overrides"), loaded.sweep.base.overrides), (("grid",), loaded.sweep.grid),
                          (("random", "params"), values)):
        for key in keys:
            if config_keys(key) == loc[:len(config_keys(key))]:
                detail = message.removeprefix(f"{dotted(loc)}: ")
                return f"{loaded.where(*section, key)}: {'.'.join(section)}.{key}: {detail}"
    return f"{loaded.where('base', 'config')}: base.config {loaded.sweep.base.config}: {message}"


def expand(loaded: LoadedSweep) -> list[Trial]:
    """The sweep's trials, sorted by run id; points that resolve to the same config are one trial."""
    trials = {}
    for values in points(loaded.sweep):
        trial = resolve(loaded, values)
        trials.setdefault(trial.run_id, trial)
    return [trials[run_id] for run_id in sorted(trials)]
