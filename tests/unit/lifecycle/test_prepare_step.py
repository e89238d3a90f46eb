"""The pipeline's prepare step: feedback joins the training rows, filtered, de-duplicated, hashed."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def load_prepare() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "pipeline_prepare", ROOT / "model" / "pipeline" / "prepare.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_inputs(tmp_path: Path, feedback: list[dict[str, str]]) -> tuple[Path, Path, Path]:
    base = tmp_path / "base"
    base.mkdir(parents=True)
    with (base / "train.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerows(
            [["text", "category"], ["card not here yet", "card_arrival"], ["top up failed", "top_up_failed"]]
        )
    (base / "test.csv").write_text("text,category\nwhere is my card,card_arrival\n")
    (base / "categories.json").write_text(json.dumps(["card_arrival", "top_up_failed", "card_swallowed"]))
    folder = tmp_path / "feedback"
    folder.mkdir()
    (folder / "part-0.jsonl").write_text("".join(json.dumps(row) + "\n" for row in feedback))
    golden = tmp_path / "golden.jsonl"
    golden.write_text(
        json.dumps({"id": "g1", "text": "The ATM ate my card", "label": "card_swallowed", "slices": []})
        + "\n"
    )
    return base, folder, golden


def test_labelled_feedback_becomes_training_rows_after_the_filters(tmp_path: Path) -> None:
    # Given two base rows and feedback: a correction of a base row, a new row, a golden query,
    # a row with an unknown label, a row that still carries an email, and an older duplicate
    prepare = load_prepare()
    base, feedback, golden = write_inputs(
        tmp_path,
        [
            {"text": "TOP UP   failed", "label": "card_arrival", "created_at": "2026-12-01T09:00:00Z"},
            {
                "text": "the machine kept my card <PERSON>",
                "label": "card_swallowed",
                "created_at": "2026-12-01T10:00:00Z",
            },
            {"text": "the ATM ate my card", "label": "card_swallowed", "created_at": "2026-12-01T10:00:00Z"},
            {"text": "whatever", "label": "not_an_intent", "created_at": "2026-12-01T10:00:00Z"},
            {
                "text": "write to jane@example.com",
                "label": "card_arrival",
                "created_at": "2026-12-01T10:00:00Z",
            },
            {"text": "top up failed", "label": "top_up_failed", "created_at": "2026-12-01T11:00:00Z"},
        ],
    )
    labels = json.loads((base / "categories.json").read_text())
    # When the step prepares the data
    rows, manifest = prepare.prepare(base, feedback, golden, labels)
    # Then the latest label of a duplicated text wins, and each filter counted what it dropped
    assert rows == [
        ("card not here yet", "card_arrival"),
        ("the machine kept my card <PERSON>", "card_swallowed"),
        ("top up failed", "top_up_failed"),
    ]
    assert manifest["counts"] == {
        "base": 2,
        "feedback": 3,
        "unknown_label": 1,
        "looks_personal": 1,
        "golden": 1,
        "duplicates": 2,
    }
    assert len(manifest["dataset_hash"]) == 64


def test_the_dataset_hash_depends_on_the_rows_not_their_order(tmp_path: Path) -> None:
    prepare = load_prepare()
    first = write_inputs(
        tmp_path / "a", [{"text": "a", "label": "card_arrival"}, {"text": "b", "label": "card_arrival"}]
    )
    second = write_inputs(
        tmp_path / "b", [{"text": "b", "label": "card_arrival"}, {"text": "a", "label": "card_arrival"}]
    )
    labels = ["card_arrival", "top_up_failed", "card_swallowed"]
    assert (
        prepare.prepare(*first, labels)[1]["dataset_hash"]
        == prepare.prepare(*second, labels)[1]["dataset_hash"]
    )
    changed = write_inputs(
        tmp_path / "c", [{"text": "a", "label": "top_up_failed"}, {"text": "b", "label": "card_arrival"}]
    )
    assert (
        prepare.prepare(*changed, labels)[1]["dataset_hash"]
        != prepare.prepare(*first, labels)[1]["dataset_hash"]
    )
