"""The label set of each route whose answers take feedback: what a corrected label may be.

A route's label set is its domain's (Banking77's 77 intents for `intent`), not the label list of
the model in service: a model trained without some intents must still accept feedback naming them,
or it could never learn them. The files ship with the layer (`label_sets/<route>.json`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LABEL_SETS = Path(__file__).resolve().parent / "label_sets"


@cache
def route_labels(route: str) -> frozenset[str]:
    """The labels feedback on `route` may give; empty for a route without a label set."""
    path = LABEL_SETS / f"{route}.json"
    if not path.is_file():
        return frozenset()
    return frozenset(str(label) for label in json.loads(path.read_text(encoding="utf-8")))


@cache
def all_labels() -> frozenset[str]:
    """Every label of every route's label set: what the API document lets a feedback name."""
    return frozenset(
        str(label)
        for path in sorted(LABEL_SETS.glob("*.json"))
        for label in json.loads(path.read_text(encoding="utf-8"))
    )
