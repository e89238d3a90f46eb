"""The golden-query gate: a candidate model against the model in service, on the same golden set.

Approved only if the candidate is not worse overall, nor on any protected slice, beyond the stated
tolerances, and its latency is within budget; otherwise the report names each failed slice and why.
Standard library only: the pipeline's evaluation step runs this file inside SageMaker's processing
container, where the sluice layer and pydantic are not installed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

OVERALL = "overall"
LATENCY = "latency"


@dataclass(frozen=True)
class GoldenQuery:
    id: str
    text: str
    label: str
    slices: tuple[str, ...]


@dataclass(frozen=True)
class GateRules:
    """Tolerances are absolute accuracy points. Slices of 20 to 30 queries move by 3 to 5 points
    per query, so 0.05 lets a candidate lose one query of a slice, never two."""

    overall_tolerance: float = 0.01
    slice_tolerance: float = 0.05
    protected_slices: tuple[str, ...] = ("banking77", "typos", "slang", "short", "long", "placeholders")
    # The floor when there is no model in service yet (the first version of a route).
    min_accuracy: float = 0.85
    # One query at a time on the evaluating machine (a CPU in `make retrain`: long queries of the
    # golden set take ~0.5 s there under load); a GPU evaluation passes a tighter budget.
    latency_p95_budget_ms: float = 1000.0
    # Both models are timed on the same machine, query by query in turn, so a ratio is meaningful.
    latency_ratio_budget: float = 1.25


@dataclass(frozen=True)
class ScoredRun:
    """One model's answers to the golden set: the top label per query id, and per-query latency."""

    model_version: str
    predictions: Mapping[str, str]
    latencies_ms: Sequence[float]


@dataclass(frozen=True)
class SliceResult:
    name: str
    queries: int
    candidate_accuracy: float
    incumbent_accuracy: float | None
    tolerance: float
    passed: bool
    regressed_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GateReport:
    approved: bool
    candidate_version: str
    incumbent_version: str | None
    slices: list[SliceResult]
    latency_p95_ms: dict[str, float | None]
    failed_slices: list[str]
    reasons: list[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def load_golden(path: Path) -> list[GoldenQuery]:
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            queries.append(GoldenQuery(row["id"], row["text"], row["label"], tuple(row["slices"])))
    return queries


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def judge(
    golden: Sequence[GoldenQuery], candidate: ScoredRun, incumbent: ScoredRun | None, rules: GateRules
) -> GateReport:
    missing = [query.id for query in golden if query.id not in candidate.predictions]
    if missing:
        raise ValueError(f"the candidate did not answer {len(missing)} golden queries")
    groups: dict[str, list[GoldenQuery]] = {OVERALL: list(golden)}
    for query in golden:
        for name in query.slices:
            groups.setdefault(name, []).append(query)
    absent = [name for name in rules.protected_slices if name not in groups]
    if absent:
        raise ValueError(f"protected slices with no golden query: {absent}")

    results: list[SliceResult] = []
    for name in [OVERALL, *rules.protected_slices]:
        queries = groups[name]
        tolerance = rules.overall_tolerance if name == OVERALL else rules.slice_tolerance
        candidate_accuracy = _accuracy(queries, candidate)
        if incumbent is None:
            passed = name != OVERALL or candidate_accuracy >= rules.min_accuracy
            results.append(SliceResult(name, len(queries), candidate_accuracy, None, tolerance, passed))
            continue
        incumbent_accuracy = _accuracy(queries, incumbent)
        regressed = [
            query.id
            for query in queries
            if incumbent.predictions.get(query.id) == query.label
            and candidate.predictions[query.id] != query.label
        ]
        # A hair of float slack: equal counts must compare equal whatever the division rounds to.
        passed = candidate_accuracy >= incumbent_accuracy - tolerance - 1e-9
        results.append(
            SliceResult(
                name, len(queries), candidate_accuracy, incumbent_accuracy, tolerance, passed, regressed
            )
        )

    failed = [result.name for result in results if not result.passed]
    reasons = [_reason(result) for result in results if not result.passed]
    candidate_p95 = p95(candidate.latencies_ms)
    incumbent_p95 = p95(incumbent.latencies_ms) if incumbent is not None else None
    if candidate_p95 > rules.latency_p95_budget_ms:
        failed.append(LATENCY)
        reasons.append(
            f"latency: p95 {candidate_p95:.1f} ms is over the budget of {rules.latency_p95_budget_ms:.0f} ms"
        )
    elif incumbent_p95 is not None and candidate_p95 > incumbent_p95 * rules.latency_ratio_budget:
        failed.append(LATENCY)
        reasons.append(
            f"latency: p95 {candidate_p95:.1f} ms is over {rules.latency_ratio_budget:.2f}x the incumbent's {incumbent_p95:.1f} ms"
        )
    return GateReport(
        approved=not failed,
        candidate_version=candidate.model_version,
        incumbent_version=incumbent.model_version if incumbent is not None else None,
        slices=results,
        latency_p95_ms={"candidate": candidate_p95, "incumbent": incumbent_p95},
        failed_slices=failed,
        reasons=reasons,
    )


def summary(report: GateReport) -> str:
    """The report as a table a person reads in a pipeline log or the demo."""
    lines = [f"{'slice':<14} {'n':>4} {'incumbent':>10} {'candidate':>10}  verdict"]
    for result in report.slices:
        incumbent = f"{result.incumbent_accuracy:.3f}" if result.incumbent_accuracy is not None else "-"
        verdict = "ok" if result.passed else f"FAILED (tolerance {result.tolerance:.2f})"
        lines.append(
            f"{result.name:<14} {result.queries:>4} {incumbent:>10} {result.candidate_accuracy:>10.3f}  {verdict}"
        )
    lines.append("approved" if report.approved else "rejected: " + "; ".join(report.reasons))
    return "\n".join(lines)


def _accuracy(queries: Iterable[GoldenQuery], run: ScoredRun) -> float:
    queries = list(queries)
    return sum(run.predictions.get(query.id) == query.label for query in queries) / len(queries)


def _reason(result: SliceResult) -> str:
    return (
        f"{result.name}: accuracy {result.candidate_accuracy:.3f} against the incumbent's "
        f"{result.incumbent_accuracy:.3f} (tolerance {result.tolerance:.2f}, {len(result.regressed_ids)} queries regressed)"
        if result.incumbent_accuracy is not None
        else f"{result.name}: accuracy {result.candidate_accuracy:.3f} is under the floor"
    )
