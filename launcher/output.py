"""What `-o/--output` prints (the option itself: launcher/cli/options.py): kubectl-like plain tables and JSON
or YAML documents. Pure: no Rich, no terminal width.

Tables are aligned columns under upper-case headers, three spaces apart, nothing truncated or wrapped, so
they survive a pipe, a CI log and an 80-column terminal alike. `json` and `yaml` print the same document.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import yaml

Say = Callable[[str], None]
GAP = "   "


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows under upper-case headers, each column as wide as its widest cell; the last column is not
    padded. Cells are str()-ed; None is shown as "-"."""
    cells = [[h.upper() for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(GAP.join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def document(doc: Any, output: str) -> str:
    """A JSON-ready document as `output` ("json": one line; "yaml": block YAML)."""
    if output == "yaml":
        return yaml.safe_dump(json.loads(json.dumps(doc, default=str)), sort_keys=False).rstrip("\n")
    return json.dumps(doc, default=str)


def emit(doc: Any, output: str, text: Callable[[], str], say: Say) -> None:
    """Print `doc` as JSON or YAML, or for "text"/"wide" what `text()` returns."""
    say(document(doc, output) if output in ("json", "yaml") else text())
