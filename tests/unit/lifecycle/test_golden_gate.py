"""The golden-query gate: both outcomes, the failed slice named, latency, and the golden set itself."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType

import pytest

from sluice.lifecycle.gate import GateRules, GoldenQuery, ScoredRun, judge, load_golden, p95, summary
from tests.unit.model.tiny_model import KeywordEncoder, write_tiny_model

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "model" / "golden" / "intent.jsonl"
RULES = GateRules(protected_slices=("banking77", "typos"), latency_p95_budget_ms=100.0)


def golden_set() -> list[GoldenQuery]:
    """40 Banking77 queries and 20 typo queries, every expected label 'a'."""
    return [GoldenQuery(f"b{i}", f"query {i}", "a", ("banking77",)) for i in range(40)] + [
        GoldenQuery(f"t{i}", f"qeury {i}", "a", ("typos",)) for i in range(20)
    ]


def run(version: str, wrong: set[str], latency_ms: float = 10.0) -> ScoredRun:
    golden = golden_set()
    return ScoredRun(
        version, {q.id: ("b" if q.id in wrong else "a") for q in golden}, [latency_ms] * len(golden)
    )


class TestGateOutcomes:
    def test_a_candidate_as_good_as_the_incumbent_is_approved(self) -> None:
        # Given an incumbent wrong on 2 queries and a candidate wrong on 2 others
        incumbent = run("v1", {"b1", "t1"})
        candidate = run("v2", {"b2", "b3"})
        # When the gate judges them on the same golden set
        report = judge(golden_set(), candidate, incumbent, RULES)
        # Then it approves: overall equal, typos better, banking77 one query (2.5 points) worse
        assert report.approved
        assert report.failed_slices == []
        assert "approved" in summary(report)

    def test_a_candidate_worse_on_a_protected_slice_is_rejected_naming_it(self) -> None:
        # Given a candidate better on Banking77 but two queries worse on typos (10 points of 20 queries)
        incumbent = run("v1", {"b1", "b2", "b3"})
        candidate = run("v2", {"t1", "t2"})
        # When the gate judges it
        report = judge(golden_set(), candidate, incumbent, RULES)
        # Then it is rejected, and the report says typos failed, which queries regressed and why
        assert not report.approved
        assert report.failed_slices == ["typos"]
        typos = next(result for result in report.slices if result.name == "typos")
        assert typos.regressed_ids == ["t1", "t2"]
        assert report.reasons == [
            "typos: accuracy 0.900 against the incumbent's 1.000 (tolerance 0.05, 2 queries regressed)"
        ]
        assert "FAILED" in summary(report)

    def test_a_candidate_worse_overall_is_rejected(self) -> None:
        incumbent = run("v1", set())
        candidate = run("v2", {"b1", "b2", "t1"})
        report = judge(
            golden_set(), candidate, incumbent, GateRules(protected_slices=(), latency_p95_budget_ms=100)
        )
        assert report.failed_slices == ["overall"]

    def test_a_slow_candidate_is_rejected_on_latency(self) -> None:
        # Given a candidate as accurate as the incumbent but twice as slow
        report = judge(
            golden_set(), run("v2", set(), latency_ms=20.0), run("v1", set(), latency_ms=10.0), RULES
        )
        # Then latency fails against the 1.25x ratio
        assert report.failed_slices == ["latency"]
        assert report.latency_p95_ms == {"candidate": 20.0, "incumbent": 10.0}

    def test_a_candidate_over_the_absolute_budget_is_rejected(self) -> None:
        report = judge(golden_set(), run("v2", set(), latency_ms=150.0), None, RULES)
        assert report.failed_slices == ["latency"]
        assert "budget of 100 ms" in report.reasons[0]

    def test_the_first_model_is_judged_against_the_floor(self) -> None:
        # Given no model in service, a candidate at 90% clears the 0.85 floor and one at 80% does not
        ten_percent_wrong = {f"b{i}" for i in range(6)}
        twenty_percent_wrong = {f"b{i}" for i in range(12)}
        assert judge(golden_set(), run("v1", ten_percent_wrong), None, RULES).approved
        assert judge(golden_set(), run("v1", twenty_percent_wrong), None, RULES).failed_slices == ["overall"]

    def test_an_unanswered_query_is_an_error_not_a_pass(self) -> None:
        partial = ScoredRun("v2", {"b1": "a"}, [1.0])
        with pytest.raises(ValueError, match="did not answer"):
            judge(golden_set(), partial, None, RULES)

    def test_a_protected_slice_without_queries_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="protected slices with no golden query"):
            judge(golden_set(), run("v2", set()), None, GateRules(protected_slices=("slang",)))


class TestGateBoundaries:
    """Exact boundaries and the report's every field (session 10: survivors of `make mutation`)."""

    def test_the_report_names_both_versions(self) -> None:
        report = judge(golden_set(), run("v2", set()), run("v1", set()), RULES)
        assert (report.candidate_version, report.incumbent_version) == ("v2", "v1")

    def test_a_first_model_exactly_on_the_floor_is_approved(self) -> None:
        # 51 of 60 right is 0.85, the floor, exactly
        assert judge(golden_set(), run("v1", {f"b{i}" for i in range(9)}), None, RULES).approved

    def test_a_first_model_is_judged_on_every_slice_with_no_incumbent_figure(self) -> None:
        report = judge(golden_set(), run("v1", set()), None, RULES)
        assert [result.name for result in report.slices] == ["overall", "banking77", "typos"]
        assert all(result.incumbent_accuracy is None and result.passed for result in report.slices)

    def test_losing_exactly_the_overall_tolerance_is_allowed(self) -> None:
        # 45 of 60 (0.75) against 1.0, with a tolerance that puts the bound on 0.75 exactly
        rules = GateRules(protected_slices=(), overall_tolerance=0.249999999, latency_p95_budget_ms=100)
        report = judge(golden_set(), run("v2", {f"b{i}" for i in range(15)}), run("v1", set()), rules)
        assert report.approved
        assert report.failed_slices == []

    def test_losing_exactly_a_protected_slices_tolerance_is_allowed(self) -> None:
        # typos from 1.0 to 0.95 (one of 20), overall unchanged
        report = judge(golden_set(), run("v2", {"t1"}), run("v1", {"b1"}), RULES)
        assert report.approved
        assert report.failed_slices == []

    def test_a_latency_exactly_on_both_budgets_is_allowed(self) -> None:
        # 100 ms: the absolute budget, and 1.25 times the incumbent's 80 ms
        report = judge(
            golden_set(), run("v2", set(), latency_ms=100.0), run("v1", set(), latency_ms=80.0), RULES
        )
        assert report.approved
        assert report.failed_slices == []

    def test_the_p95_is_the_nearest_rank(self) -> None:
        assert p95([float(i) for i in range(20, 0, -1)]) == 19.0
        assert p95([7.0]) == 7.0

    def test_the_summary_of_a_first_model(self) -> None:
        assert summary(judge(golden_set(), run("v1", set()), None, RULES)) == (
            "slice             n  incumbent  candidate  verdict\n"
            "overall          60          -      1.000  ok\n"
            "banking77        40          -      1.000  ok\n"
            "typos            20          -      1.000  ok\n"
            "approved"
        )

    def test_the_summary_of_a_rejection_gives_every_reason(self) -> None:
        report = judge(
            golden_set(), run("v2", {"t1", "t2"}, latency_ms=20.0), run("v1", {"b1", "b2", "b3"}), RULES
        )
        assert summary(report) == (
            "slice             n  incumbent  candidate  verdict\n"
            "overall          60      0.950      0.967  ok\n"
            "banking77        40      0.925      1.000  ok\n"
            "typos            20      1.000      0.900  FAILED (tolerance 0.05)\n"
            "rejected: typos: accuracy 0.900 against the incumbent's 1.000 (tolerance 0.05, 2 queries "
            "regressed); latency: p95 20.0 ms is over 1.25x the incumbent's 10.0 ms"
        )

    def test_the_golden_set_is_read_as_utf8_whatever_the_locale(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "golden.jsonl"
        line = {"id": "q1", "text": "café €5", "label": "a", "slices": ["typos"]}
        path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
        # An ASCII locale: what `open` and `read_text` use when no encoding is given
        monkeypatch.setattr(io, "text_encoding", lambda encoding, stacklevel=2: encoding or "ascii")

        assert load_golden(path) == [GoldenQuery("q1", "café €5", "a", ("typos",))]


class TestGoldenSet:
    def test_it_has_every_protected_slice_with_labels_from_banking77(self) -> None:
        # Given the committed golden set and Banking77's intents
        golden = load_golden(GOLDEN)
        intents = set(json.loads((ROOT / "data" / "banking77" / "categories.json").read_text()))
        # Then every expected label is an intent, ids are unique, and each protected slice has 20+ queries
        assert {query.label for query in golden} <= intents
        assert len({query.id for query in golden}) == len(golden)
        for name in GateRules().protected_slices:
            assert sum(name in query.slices for query in golden) >= 20, name
        assert any("<PERSON" in query.text for query in golden)

    def test_no_golden_query_is_a_training_row(self) -> None:
        # Given the training split
        with (ROOT / "data" / "banking77" / "train.csv").open(newline="", encoding="utf-8") as file:
            training = {" ".join(row["text"].lower().split()) for row in csv.DictReader(file)}
        # Then no golden text appears in it
        assert not [
            query.id for query in load_golden(GOLDEN) if " ".join(query.text.lower().split()) in training
        ]


def load_evaluate() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "pipeline_evaluate", ROOT / "model" / "pipeline" / "evaluate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestEvaluateStep:
    def test_writes_the_property_file_the_condition_step_reads(self, tmp_path: Path) -> None:
        # Given two tiny models, the candidate unable to tell "stolen" (its head has that row zeroed)
        import numpy as np

        evaluate = load_evaluate()
        inference = evaluate.inference
        incumbent = inference.load_model(write_tiny_model(tmp_path / "incumbent"), encoder=KeywordEncoder())
        candidate_dir = write_tiny_model(tmp_path / "candidate")
        coef = np.eye(3) * 8.0
        coef[2, 2] = 0.0
        np.savez(candidate_dir / "head.npz", coef=coef, intercept=np.zeros(3))
        (candidate_dir / "model.json").write_text(json.dumps({"model_version": "tiny-2"}))
        candidate = inference.load_model(candidate_dir, encoder=KeywordEncoder())
        golden = [
            GoldenQuery(f"r{i}", "not received my card", "card_arrival", ("banking77",)) for i in range(20)
        ] + [
            GoldenQuery(f"s{i}", "my card was stolen", "lost_or_stolen_card", ("placeholders",))
            for i in range(20)
        ]
        # Latency is not under test here: microsecond timings of a tiny model are all noise.
        rules = GateRules(
            protected_slices=("banking77", "placeholders"),
            latency_p95_budget_ms=1000.0,
            latency_ratio_budget=1e6,
        )
        # When the evaluate step runs the gate and writes its outputs
        report = evaluate.evaluate(golden, candidate, incumbent, rules)
        evaluate.write_outputs(report, tmp_path / "out")
        # Then the property file says rejected, with the failed slice, and the report carries the reasons
        evaluation = json.loads((tmp_path / "out" / "evaluation.json").read_text())
        assert evaluation["approved"] == 0
        assert evaluation["failed_slices"] == ["overall", "placeholders"]
        assert evaluation["metrics"]["incumbent_golden_accuracy"]["value"] == 1.0
        assert (
            json.loads((tmp_path / "out" / "gate_report.json").read_text())["candidate_version"] == "tiny-2"
        )

    def test_puts_the_candidates_baseline_beside_its_report_for_the_rollout(self, tmp_path: Path) -> None:
        # The registered package points at the report; the deploy function reads the baseline beside it
        evaluate = load_evaluate()
        candidate = write_tiny_model(tmp_path / "candidate")
        (candidate / "baseline.json").write_text('{"model_version": "tiny-1"}')
        copied = evaluate.copy_baseline(candidate, tmp_path / "out")
        assert copied == tmp_path / "out" / "baseline.json"
        assert json.loads(copied.read_text()) == {"model_version": "tiny-1"}
        # A candidate trained without one leaves nothing there (the rollout then says so)
        assert evaluate.copy_baseline(write_tiny_model(tmp_path / "bare"), tmp_path / "bare-out") is None
        assert not (tmp_path / "bare-out" / "baseline.json").exists()
