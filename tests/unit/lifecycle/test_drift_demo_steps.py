"""The building blocks of `make drift-demo` (bench/drift_demo.py) and the evaluate step's opt-in
embedding cache it uses: the held-out draw, the traffic mix, the labelling bug, the broken
artifact, and golden queries scored from cached embeddings without being timed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sluice.lifecycle.gate import GoldenQuery
from tests.unit.lifecycle.test_golden_gate import load_evaluate
from tests.unit.model.tiny_model import KEYWORDS, KeywordEncoder, write_tiny_model

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import drift_demo  # noqa: E402


def test_the_unseen_intents_are_a_seeded_draw_of_distinct_labels() -> None:
    labels = [f"intent_{n}" for n in range(77)] * 3
    first = drift_demo.choose_unseen(labels, 10, seed=3)
    assert first == drift_demo.choose_unseen(labels, 10, seed=3)
    assert len(set(first)) == 10
    assert set(first) <= set(labels)
    assert first != drift_demo.choose_unseen(labels, 10, seed=4)


def test_shifted_traffic_has_exactly_the_asked_share_of_unseen_intents() -> None:
    seen = [drift_demo.Row(f"seen {n}", "card_arrival") for n in range(500)]
    unseen = [drift_demo.Row(f"new {n}", "exchange_rate") for n in range(300)]
    window = drift_demo.mixed_traffic(seen, unseen, size=300, unseen_share=0.5, seed=1)
    assert len(window) == 300
    assert sum(row.label == "exchange_rate" for row in window) == 150
    assert len({row.text for row in window}) == 300  # no query twice
    # Shuffled: the new intents do not arrive in one block at the end
    assert any(row.label == "exchange_rate" for row in window[:50])


def test_the_labelling_bug_gives_every_label_another_one() -> None:
    labels = ["b", "c", "a"]
    bug = drift_demo.shifted_labels(labels)
    assert bug == {"a": "b", "b": "c", "c": "a"}
    assert all(bug[label] != label for label in labels)


def test_the_broken_artifact_loads_and_then_fails_every_prediction(tmp_path: Path) -> None:
    # Given a good model directory
    evaluate = load_evaluate()
    inference = evaluate.inference
    good = write_tiny_model(tmp_path / "good")
    # When the demo makes its broken copy
    version = drift_demo.broken_artifact(good, tmp_path / "broken")
    # Then it loads as a model would (so the endpoint accepts it) and fails at serving
    model = inference.load_model(tmp_path / "broken", encoder=KeywordEncoder())
    assert model.model_version == version == "tiny-1-768d"
    with pytest.raises(RuntimeError):
        inference.predict_fn([inference.Instance("my card was stolen")], model)
    # And the source is untouched
    assert inference.load_model(good, encoder=KeywordEncoder()).weights.shape[1] == len(KEYWORDS)


def test_with_a_cache_a_uniform_sample_is_timed_and_the_rest_scored_from_embeddings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a tiny model, a cache whose vectors point at another label than the texts would, and a
    # golden set of four queries of which every second one is to be timed
    evaluate = load_evaluate()
    monkeypatch.setattr(evaluate, "CACHED_TIMING_STRIDE", 2)
    inference = evaluate.inference
    encoder = KeywordEncoder()
    model = inference.load_model(write_tiny_model(tmp_path / "m"), encoder=encoder)
    rate = np.array([0.0, 1.0, 0.0])
    golden = [
        GoldenQuery("t0", "cached: card received", "card_arrival", ("banking77",)),
        GoldenQuery("c1", "cached: the rate", "exchange_rate", ("banking77",)),
        GoldenQuery("t2", "my card was stolen", "lost_or_stolen_card", ("placeholders",)),
        GoldenQuery("u3", "not in the cache: received", "card_arrival", ("typos",)),
    ]
    cache = {"cached: card received": rate, "cached: the rate": rate}
    # When the evaluate step scores it with the cache
    [run] = evaluate.score_interleaved(golden, {"candidate": model}, cache).values()
    # Then the sampled queries were served and timed (a cached one too), the cached one outside the
    # sample took the head's answer on its cached vector, and the uncached one was served untimed
    # (a sampled query is served twice, the faster serving counting)
    assert encoder.batches == [
        ["cached: card received"],
        ["cached: card received"],
        ["my card was stolen"],
        ["my card was stolen"],
        ["not in the cache: received"],
    ]
    assert len(run.latencies_ms) == 2
    assert dict(run.predictions) == {
        "t0": "card_arrival",
        "c1": "exchange_rate",
        "t2": "lost_or_stolen_card",
        "u3": "card_arrival",
    }


def test_without_a_cache_every_query_is_served_and_timed(tmp_path: Path) -> None:
    evaluate = load_evaluate()
    encoder = KeywordEncoder()
    model = evaluate.inference.load_model(write_tiny_model(tmp_path / "m"), encoder=encoder)
    golden = [
        GoldenQuery(f"q{n}", "my card was stolen", "lost_or_stolen_card", ("banking77",)) for n in range(7)
    ]
    [run] = evaluate.score_interleaved(golden, {"candidate": model}).values()
    assert len(encoder.batches) == len(run.latencies_ms) == 7


def test_the_gate_table_shows_both_versions_per_slice() -> None:
    report = {
        "slices": [
            {
                "name": "overall",
                "queries": 438,
                "incumbent_accuracy": 0.81,
                "candidate_accuracy": 0.9,
                "tolerance": 0.01,
                "passed": True,
            },
            {
                "name": "typos",
                "queries": 30,
                "incumbent_accuracy": 0.8,
                "candidate_accuracy": 0.7,
                "tolerance": 0.05,
                "passed": False,
            },
        ],
        "latency_p95_ms": {"candidate": 51.0, "incumbent": 49.0},
    }
    lines = drift_demo.gate_table(report, "v1", "v2")
    assert lines[1].split() == ["overall", "438", "0.810", "0.900", "ok"]
    assert lines[2].split()[:4] == ["typos", "30", "0.800", "0.700"]
    assert "FAILED (tolerance 0.05)" in lines[2]
    assert lines[3].split() == ["p95", "latency", "49ms", "51ms"]
