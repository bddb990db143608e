"""Reading labelled text files (jsonl, csv, parquet) with errors a user can act on."""

import csv
import json
from pathlib import Path


class DataError(Exception):
    """Bad data: retrying cannot help, so the trainer exits with the bad-config code."""


def read_records(path: Path, fmt: str, text_field: str, label_field: str, what: str) -> list[tuple[str, object]]:
    """(text, label) pairs from one file; `what` names the config field for error messages."""
    if not path.is_file():
        raise DataError(f"{what}: {path}: no such file")
    rows = list(_READERS[fmt](path))
    if not rows:
        raise DataError(f"{what}: {path}: the file has no rows")
    out = []
    for number, row in enumerate(rows, start=1):
        for field in (text_field, label_field):
            if field not in row:
                raise DataError(f"{what}: {path} row {number}: no field {field!r} (fields: {', '.join(row)})")
        out.append((str(row[text_field]), row[label_field]))
    return out


def label_map(train_labels: list, num_labels: int | None) -> list:
    """Label names in id order: the sorted distinct training labels (integers keep their own ids)."""
    names = sorted(set(train_labels), key=lambda v: (isinstance(v, str), v))
    if all(isinstance(v, int) for v in names):
        names = list(range(max(num_labels or 0, max(names) + 1)))
    if num_labels is not None and len(names) > num_labels:
        raise DataError(f"model.num_labels: {num_labels}, but the training data has {len(names)} labels")
    if len(names) < 2:
        raise DataError(f"data.train: only one label ({names[0]!r}); classification needs at least two")
    return names


def encode_labels(records: list[tuple[str, object]], names: list, path: Path, what: str) -> list[int]:
    ids = {name: i for i, name in enumerate(names)}
    out = []
    for number, (_, label) in enumerate(records, start=1):
        if label not in ids:
            known = ", ".join(map(str, names))
            raise DataError(f"{what}: {path} row {number}: unknown label {label!r} (training labels: {known})")
        out.append(ids[label])
    return out


def _jsonl(path: Path):
    with open(path) as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path} line {number}: not JSON ({exc.msg})") from None


def _csv(path: Path):
    with open(path, newline="") as fh:
        yield from csv.DictReader(fh)


def _parquet(path: Path):
    import pyarrow.parquet as pq

    yield from pq.read_table(path).to_pylist()


_READERS = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}
