"""Pydantic validation errors as one line a user can act on: the YAML path, what is wrong, what is allowed."""

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from .models import Experiment
from .presets import MIG_PROFILE


def describe(exc: ValidationError, root: type[BaseModel] = Experiment) -> tuple[tuple, str]:
    """The YAML path of the first error and its message; `root`: the model of the whole file (an experiment
    config, or a sweep file), whose sections name the allowed keys."""
    err = dict(exc.errors()[0])
    loc = tuple(k for k in err["loc"] if k != "[key]") or path_in_message(err)  # "[key]": a map's key is bad
    return loc, f"{dotted(loc) or '(top level)'}: {explain(err, root)}"


def path_in_message(err: dict) -> tuple:
    """Checks across sections start their message with the path they are about; take it from there."""
    head, sep, rest = err["msg"].removeprefix("Value error, ").partition(": ")
    if not sep or " " in head:
        return ()
    err["msg"] = rest
    return tuple(head.split("."))


def field_of(model: type[BaseModel], key: str) -> Any:
    """The field a YAML key names: by name, or by alias in sections spelled as in the Kubernetes API."""
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def keys_of(model: type[BaseModel]) -> list[str]:
    """The keys a section takes, spelled as the YAML spells them."""
    return [info.alias or name for name, info in model.model_fields.items()]


def model_in(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def explain(err: dict, root: type[BaseModel] = Experiment) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key" + _allowed_keys(tuple(err["loc"])[:-1], root)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch" and "input" in err:
        return f"{err['input']!r} is not valid here ({_pattern_hint(err)})"
    if "input" in err and err["type"] not in ("missing", "value_error", "model_type"):
        return f"{msg} (got {err['input']!r})"
    return msg


def _pattern_hint(err: dict) -> str:
    pattern = err.get("ctx", {}).get("pattern", "")
    if "Ki|Mi|Gi" in pattern:
        return "a Kubernetes quantity such as 4Gi, 512Mi or 2; GB and MB are not units there"
    if pattern.startswith("^s3://"):
        return "expected s3://bucket/prefix with a 3-63 character lowercase bucket name"
    if pattern == MIG_PROFILE:
        return "a MIG profile <compute slices>g.<memory GB>gb such as 1g.10gb or 3g.71gb, as nvidia-smi lists it"
    if pattern == "^/":
        return "an absolute path such as /mnt/data"
    if pattern == r"^https?://\S+$":
        return "an http:// or https:// URL such as http://minio:9000"
    if pattern == r"^\S+$":
        return "no spaces"
    return "lowercase letters, digits and '-', starting and ending with a letter or digit"


def _allowed_keys(loc: tuple, root: type[BaseModel] = Experiment) -> str:
    annotation: Any = root
    for key in loc:
        if isinstance(key, int) or typing.get_origin(annotation) is dict:
            continue  # a list index or a map's key: stay on the item type
        model = model_in(annotation)
        if model is None or field_of(model, key) is None:
            return ""
        annotation = field_of(model, key).annotation
    sub = model_in(annotation)
    return f"; allowed: {', '.join(keys_of(sub))}" if sub else ""


def dotted(loc: tuple) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in loc).lstrip(".")
