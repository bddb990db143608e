"""TF-IDF + logistic regression on the quickstart's training rows, scored on the same 1,000 test rows.

Usage: .venv/bin/python bench/baseline.py [--data volumes/datasets/reviews]
The number the fine-tuned quickstart model must beat (docs/benchmarks.md).
"""

import argparse
import json
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score


def rows(path: Path) -> tuple[list[str], list[str]]:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r["text"] for r in records], [r["label"] for r in records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("volumes/datasets/reviews"))
    args = parser.parse_args()
    train_x, train_y = rows(args.data / "train.jsonl")
    test_x, test_y = rows(args.data / "test.jsonl")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    classifier = LogisticRegression(max_iter=2000, C=4.0).fit(vectorizer.fit_transform(train_x), train_y)
    predicted = classifier.predict(vectorizer.transform(test_x))
    print(json.dumps({"baseline": "tfidf-logreg", "train_rows": len(train_x), "test_rows": len(test_x),
                      "test_accuracy": round(accuracy_score(test_y, predicted), 4),
                      "test_f1": round(f1_score(test_y, predicted, average="macro"), 4)}))


if __name__ == "__main__":
    main()
