"""Read a sweep file: validate it (one line per mistake: file:line, YAML path, what is allowed), read its
base experiment config, and check that every searched path names a field of the experiment schema."""

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from ..config.loading import _line_index, _nearest_line, _read, _resolve, _where, split_path
from ..schema import Experiment
from ..schema.errors import describe, field_of, keys_of, model_in
from .schema import Sweep


@dataclass(frozen=True)
class LoadedSweep:
    """`sweep`: the validated file; `base`: the base config's raw mapping (overrides not applied yet);
    `source`: the sweep file's path; `lines`: YAML path (tuple) -> 1-based line in the sweep file."""

    sweep: Sweep
    base: dict
    source: str
    lines: dict[tuple, int]

    def where(self, *loc: Any) -> str:
        """`file:line` of a YAML path of the sweep file (its nearest known parent's line), or the file."""
        return _where(self.source, self.lines.get(loc) or _nearest_line(self.lines, loc))


def is_sweep_file(path: Path) -> bool:
    """Whether `path` holds a sweep (a mapping with `kind: Sweep`) rather than an experiment config.
    Unreadable or invalid YAML counts as not a sweep: the experiment loader then reports it."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(raw, dict) and raw.get("kind") == "Sweep"


def load_sweep(path: Path) -> LoadedSweep:
    """The validated sweep in `path` with its base config. Raises ConfigError (one line) for bad YAML, a
    schema error, an unreadable base config, or a path no experiment has."""
    text = _read(path)
    try:
        raw, lines = yaml.safe_load(text), _line_index(yaml.compose(text))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping (kind: Sweep, name, base, grid, ...), got {type(raw).__name__}")
    try:
        sweep = Sweep.model_validate(raw)
    except ValidationError as exc:
        loc, message = describe(exc, root=Sweep)
        raise ConfigError(f"{_where(str(path), lines.get(loc) or _nearest_line(lines, loc))}: {message}") from None
    loaded = LoadedSweep(sweep, _base(path, sweep, lines), str(path), lines)
    for section, key in searched_paths(sweep):
        check_path(loaded, section, key)
    return loaded


def searched_paths(sweep: Sweep) -> list[tuple[tuple, str]]:
    """(YAML path of the section, dotted config path) of every override, grid key and random param."""
    out = [(("base", "overrides"), key) for key in sweep.base.overrides]
    out += [(("grid",), key) for key in sweep.grid]
    out += [(("random", "params"), key) for key in (sweep.random.params if sweep.random else {})]
    return out


def config_keys(dotted: str) -> tuple[str, ...]:
    """The keys a checked dotted path sets: split on dots, except under a map, where the rest is one key
    (scheduling.node_selector.example.com/pool -> scheduling, node_selector, example.com/pool)."""
    return tuple(_resolve(Experiment, split_path(dotted), dotted)[0])


def check_path(loaded: LoadedSweep, section: tuple, dotted: str) -> None:
    """Raise ConfigError unless `dotted` names a field (or a key of a map field) of the experiment schema."""
    annotation: Any = Experiment
    keys = split_path(dotted)
    for depth, key in enumerate(keys):
        if _is_map(annotation):
            return  # under a map (node_selector, env): the rest of the path is a key of the map
        model = model_in(annotation)
        if model is None:
            raise ConfigError(f"{loaded.where(*section, dotted)}: {'.'.join(section)}.{dotted}: "
                              f"{'.'.join(keys[:depth])} has no fields")
        if field_of(model, key) is None:
            allowed = ", ".join(keys_of(model))
            raise ConfigError(f"{loaded.where(*section, dotted)}: {'.'.join(section)}.{dotted}: unknown path "
                              f"(no {'.'.join(keys[:depth + 1])}); allowed under "
                              f"{'.'.join(keys[:depth]) or 'the top'}: {allowed}")
        annotation = field_of(model, key).annotation


def _is_map(annotation: Any) -> bool:
    """dict[...] or dict[...] | None."""
    return typing.get_origin(annotation) is dict or any(typing.get_origin(a) is dict
                                                        for a in typing.get_args(annotation))


def _base(path: Path, sweep: Sweep, lines: dict[tuple, int]) -> dict:
    """The raw mapping of the base config, found relative to the sweep file's folder."""
    base_path = (Path(path).parent / sweep.base.config)
    where = _where(str(path), lines.get(("base", "config")))
    try:
        raw = yaml.safe_load(base_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: base.config: cannot read {base_path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: base.config: {base_path} is not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", exc)
        raise ConfigError(f"{where}: base.config: {base_path} is not valid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: base.config: {base_path} is not a mapping of config sections")
    return raw
