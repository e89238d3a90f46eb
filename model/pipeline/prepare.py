"""Pipeline step "prepare": the training set of the next model, with its dataset hash.

Base training rows (train.csv) plus labelled feedback (JSON lines `{"text", "label", ...}`, exported
from the feedback table; texts were redacted by the API before they were stored), then:
- rows whose label is not one of the route's intents are dropped;
- rows that still look like personal data (an email, a long run of digits) are dropped, a second
  line of defence behind the API's redaction, counted, never printed;
- golden queries are dropped, so the gate never scores a model on rows it was trained on;
- duplicates (case and spacing folded) are merged: labelled feedback wins over a base row, the
  latest feedback wins over older feedback.
Writes `<output>/train/train.csv`, `<output>/test/test.csv` (the base test split, unchanged) and
`<output>/manifest/manifest.json` with the counts and `dataset_hash` (SHA-256 of the sorted rows).

    python model/pipeline/prepare.py --base data/banking77 --feedback .sluice/feedback \
        --golden model/golden/intent.jsonl --output .sluice/prepared
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

PROCESSING = Path("/opt/ml/processing")
# What the API's redaction replaces with placeholders; anything left is not training data.
LOOKS_PERSONAL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|\d[\d \-]{7,}\d")


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def read_feedback(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not folder.exists():
        return rows
    for path in sorted(folder.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    # Oldest first, so a later correction of the same text replaces an earlier one below.
    return sorted(rows, key=lambda row: str(row.get("created_at", "")))


def prepare(
    base: Path, feedback: Path, golden: Path, labels: list[str]
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    label_set = set(labels)
    golden_texts = {
        normalise(json.loads(line)["text"]) for line in golden.read_text().splitlines() if line.strip()
    }
    counts = {"base": 0, "feedback": 0, "unknown_label": 0, "looks_personal": 0, "golden": 0, "duplicates": 0}
    rows: dict[str, tuple[str, str]] = {}

    def add(text: str, label: str, *, source: str) -> None:
        key = normalise(text)
        if label not in label_set:
            counts["unknown_label"] += 1
        elif LOOKS_PERSONAL.search(text):
            counts["looks_personal"] += 1
        elif key in golden_texts:
            counts["golden"] += 1
        else:
            if key in rows:
                counts["duplicates"] += 1
            rows[key] = (text.strip(), label)  # later sources (feedback) replace earlier ones
            counts[source] += 1

    for row in read_csv(base / "train.csv"):
        add(row["text"], row["category"], source="base")
    for row in read_feedback(feedback):
        if row.get("label"):
            add(str(row["text"]), str(row["label"]), source="feedback")
    ordered = sorted(rows.values())
    digest = hashlib.sha256()
    for text, label in ordered:
        digest.update(f"{label}\t{text}\n".encode())
    manifest = {"dataset_hash": digest.hexdigest(), "rows": len(ordered), "counts": counts}
    return ordered, manifest


def build_parser() -> argparse.ArgumentParser:
    # The defaults are where the pipeline's PrepareData step puts its inputs and takes its outputs
    # from (infra/lifecycle_pipeline.py; tests/unit/lifecycle/test_local_pipeline_run.py).
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", type=Path, default=PROCESSING / "input" / "base")
    parser.add_argument("--feedback", type=Path, default=PROCESSING / "input" / "feedback")
    parser.add_argument(
        "--golden", type=Path, default=Path(__file__).resolve().parents[1] / "golden" / "intent.jsonl"
    )
    parser.add_argument("--output", type=Path, default=PROCESSING / "output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    labels_file = args.base / "categories.json"
    labels = (
        json.loads(labels_file.read_text())
        if labels_file.exists()
        else sorted({row["category"] for row in read_csv(args.base / "train.csv")})
    )
    rows, manifest = prepare(args.base, args.feedback, args.golden, labels)
    for name in ("train", "test", "manifest"):
        (args.output / name).mkdir(parents=True, exist_ok=True)
    with (args.output / "train" / "train.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "category"])
        writer.writerows(rows)
    shutil.copy2(args.base / "test.csv", args.output / "test" / "test.csv")
    (args.output / "manifest" / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
