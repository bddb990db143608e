"""Reading labelled text in every supported format."""

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainer.records import DataError, label_map, read_records

ROWS = [{"text": "great taste", "label": "great"}, {"text": "stale", "label": "other"}]


def write(path, fmt):
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif fmt == "csv":
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(ROWS)
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_every_format_reads_the_same_records(tmp_path, fmt):
    path = tmp_path / f"train.{fmt}"
    write(path, fmt)
    assert read_records(path, fmt, "text", "label", "data.train") == [("great taste", "great"), ("stale", "other")]


def test_integer_labels_keep_their_ids():
    assert label_map([0, 2, 1, 2], num_labels=None) == [0, 1, 2]


def test_a_single_label_cannot_train_a_classifier():
    with pytest.raises(DataError, match="only one label"):
        label_map(["great", "great"], None)


def test_more_labels_than_num_labels_is_an_error():
    with pytest.raises(DataError, match=r"model.num_labels: 2, but the training data has 3 labels"):
        label_map(["a", "b", "c"], 2)


def test_a_broken_jsonl_line_names_its_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{oops\n')
    with pytest.raises(DataError, match=r"train.jsonl line 2: not JSON"):
        read_records(path, "jsonl", "text", "label", "data.train")
