"""Read an experiment YAML, apply `--set` overrides, and turn every mistake into one readable line."""

import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .identity import run_id_for
from ..schema import Experiment
from ..schema.errors import describe, field_of, keys_of, model_in


@dataclass(frozen=True)
class Run:
    """A validated experiment and the run id its objects are named after."""

    experiment: Experiment
    run_id: str
    source: str


def load_run(path: Path, overrides: list[str] = (), run_id: str | None = None, namespace: str | None = None) -> Run:
    """The validated experiment in `path`, with `a.b=value` overrides and `namespace` (-n), and its run id.
    A bad value names the flag that set it, else the file's line."""
    text = _read(path)
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of config sections, got {type(raw).__name__}")
    overridden = {tuple(apply_override(raw, item)): f"--set {item!r}" for item in overrides}
    if namespace:
        raw["namespace"], overridden[("namespace",)] = namespace, f"-n {namespace!r}"
    lines = _line_index(root)
    experiment = validate(raw, source=str(path), lines=lines, overridden=overridden)
    try:
        return Run(experiment, run_id_for(experiment, run_id), str(path))
    except ValueError as exc:
        if run_id:
            raise ConfigError(f"--run-id {run_id!r}: {exc}") from None
        raise ConfigError(f"{_where(str(path), lines.get(('name',)))}: name: {exc}") from None


def validate(raw: dict, source: str, lines: dict[tuple, int] | None = None,
             overridden: dict[tuple, str] | None = None) -> Experiment:
    """Validate a raw config mapping; errors name `source`, the line when known, and the YAML path, or the
    flag that put the bad value there (`overridden`: the keys a flag set -> the flag and its value)."""
    try:
        return Experiment.model_validate(raw)
    except ValidationError as exc:
        loc, message = describe(exc)
        if flag := _override_of(overridden or {}, loc):
            raise ConfigError(f"{flag}: {message}") from None
        line = (lines or {}).get(loc) or _nearest_line(lines or {}, loc)
        raise ConfigError(f"{_where(source, line)}: {message}") from None


def _override_of(overridden: dict[tuple, str], loc: tuple) -> str | None:
    """The flag whose keys are `loc` or lead to it (the last such flag wins, as it did when set)."""
    matches = [item for keys, item in overridden.items() if loc[:len(keys)] == keys]
    return matches[-1] if matches else None


def _where(source: str, line: int | None) -> str:
    return f"{source}:{line}" if line else source


def apply_override(raw: dict, item: str) -> list[str]:
    """Set `a.b.c=value` in `raw`, parsing the value as the field's own type; returns the keys it set."""
    dotted, sep, value = item.partition("=")
    if not sep or not dotted:
        raise ConfigError(f"--set {item!r}: expected PATH=VALUE, e.g. train.lr=3e-5")
    keys, annotation = _resolve(Experiment, split_path(dotted), item)
    node = raw
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {item!r}: {key} is not a section")
    node[keys[-1]] = value if _is_str(annotation) and value not in ("null", "~") else _value(item, value)
    return keys


def _value(item: str, value: str) -> Any:
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {item!r}: the value is not valid YAML ({getattr(exc, 'problem', exc)}); "
                          "quote it") from None


def split_path(dotted: str) -> list[str]:
    """`a.b.c` -> [a, b, c]; a backslash keeps a dot inside a key, as Helm's --set does: a.b\\.c -> [a, b.c]."""
    return [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", dotted)]


def _resolve(model: type[BaseModel], keys: list[str], item: str) -> tuple[list[str], Any]:
    """The keys to set and the annotation of the value. Under a map of strings (node_selector) the rest of
    the path is one key, dots and all, since label keys such as example.com/pool contain dots."""
    annotation: Any = model
    for depth, key in enumerate(keys):
        sub = model_in(annotation)
        if sub is None:
            if _is_string_map(annotation):
                return [*keys[:depth], ".".join(keys[depth:])], str
            if _is_mapping(annotation):
                return keys, str
            raise ConfigError(f"--set {item!r}: {'.'.join(keys[:depth])} has no fields")
        if field_of(sub, key) is None:
            allowed = ", ".join(keys_of(sub))
            raise ConfigError(f"--set {item!r}: no field {'.'.join(keys[:depth + 1])}; allowed: {allowed}")
        annotation = field_of(sub, key).annotation
    return keys, annotation


def _is_mapping(annotation: Any) -> bool:
    return any(typing.get_origin(a) is dict or a is dict for a in (annotation, *typing.get_args(annotation)))


def _is_string_map(annotation: Any) -> bool:
    """dict[str, str], also with constrained (Annotated) keys and values."""
    return typing.get_origin(annotation) is dict and _is_str(typing.get_args(annotation)[1])


def _is_str(annotation: Any) -> bool:
    """True for str and str | None, including constrained (Annotated) strings."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_str(typing.get_args(annotation)[0])
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_str(args[0])
    return annotation is str


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): pass a YAML config, saved as UTF-8") from None


def _line_index(node: yaml.Node | None, prefix: tuple = ()) -> dict[tuple, int]:
    """Map every YAML path (keys and list indexes) to its 1-based line."""
    index: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, key.value)
            index[path] = key.start_mark.line + 1
            index.update(_line_index(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            index[(*prefix, i)] = value.start_mark.line + 1
            index.update(_line_index(value, (*prefix, i)))
    return index


def _nearest_line(lines: dict[tuple, int], loc: tuple) -> int | None:
    for end in range(len(loc) - 1, 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
