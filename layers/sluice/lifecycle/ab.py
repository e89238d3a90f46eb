"""A/B evidence: online figures per (route, variant, model version) and a significance test per
figure between two arms, from the platform's own records (`make ab-report`).

An arm's observations come from what the platform already keeps: the inference log the API writes
on feedback routes (who served it, top label, its score, the API's time), the job records (a queued
job's outcome, failed or not) and the feedback (`Feedback.correct`). Nothing here reads an input.

Which test, and why:
- Feedback accuracy and error rate: Fisher's exact test on the 2x2 table (arm x right/wrong,
  arm x failed/answered), two-sided. It is exact at any size, and these tables are small where it
  matters: errors are rare and feedback is a fraction of traffic, so the expected counts the
  two-proportion z-test needs (about 5 per cell) are often not there.
- Latency and top-label confidence: Mann-Whitney U, two-sided. Latency is skewed with a long tail
  and confidence is bounded and piled up near 1: neither is near normal, so a t-test on means
  would be driven by a few outliers; U compares the whole distributions by rank.
The effect is stated as B minus A (proportions) or the rank-biserial correlation (U: +1 when every
B value is above every A value). Each figure is tested at `alpha` on its own (four tests per pair:
read a lone p just under 0.05 with that in mind). Below `min_samples` per arm the verdict is
"no evidence" whatever the p-value: a handful of requests proves nothing either way.

scipy is imported inside the tests: the report runs from the command line, never in a function.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sluice.jobs.models import Job, JobStatus
from sluice.lifecycle.feedback import Feedback, ServedInference, top_score

Figure = Literal["accuracy", "error_rate", "latency", "confidence"]
# Which way is better for each figure (confidence is not "better" higher: it is reported as is).
_BETTER_WHEN_HIGHER: dict[Figure, bool | None] = {
    "accuracy": True,
    "error_rate": False,
    "latency": False,
    "confidence": None,
}


class Observation(BaseModel):
    """One served request of an arm, joined with its feedback when there is some."""

    model_config = ConfigDict(frozen=True)

    route: str
    variant: str
    model_version: str
    error: bool = False
    latency_ms: float | None = None
    confidence: float | None = None
    # Feedback's verdict (`Feedback.correct`); None when the request has no feedback.
    correct: bool | None = None


def observations_from_records(
    served: Iterable[ServedInference], jobs: Iterable[Job], feedback: Iterable[Feedback]
) -> list[Observation]:
    """One observation per request, joined by inference id: a sync answer from the inference log
    (latency, confidence), a queued job from its job record (failed or not, its answer's score),
    and its feedback's verdict. A queued job is in both the log (its input) and the job table: the
    job record, which has the outcome, counts it once. A job still queued or running is left out."""
    verdicts = {(f.tenant, f.job_id): f.correct for f in feedback}
    rows: dict[str, Observation] = {}
    for item in served:
        if not item.answered:
            continue
        rows[item.job_id] = Observation(
            route=item.route,
            variant=item.variant or "",
            model_version=item.model_version or "",
            latency_ms=item.latency_ms,
            confidence=item.confidence,
            correct=verdicts.get((item.tenant, item.job_id)),
        )
    for job in jobs:
        if job.status not in (JobStatus.SUCCEEDED, JobStatus.FAILED) or job.id in rows:
            continue
        rows[job.id] = Observation(
            route=job.route,
            variant=job.variant or "",
            model_version=job.model_version or "",
            error=job.status is JobStatus.FAILED,
            confidence=top_score(job.output),
            correct=verdicts.get((job.tenant, job.id)),
        )
    return list(rows.values())


class ArmFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    route: str
    variant: str
    model_version: str
    requests: int
    errors: int
    feedback: int
    correct: int
    accuracy: float | None
    accuracy_low: float | None
    accuracy_high: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_samples: int
    mean_confidence: float | None
    confidence_samples: int

    @property
    def arm(self) -> str:
        return f"{self.variant}@{self.model_version}"

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    figure: Figure
    test: str
    n_a: int
    n_b: int
    effect: float | None = Field(description="B - A for proportions; rank-biserial r for U tests")
    p_value: float | None
    verdict: str


class ABPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    min_samples: int = Field(default=20, ge=1)
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion: sound at small n and at 0 or n successes, where
    the normal (Wald) interval collapses to a point."""
    if n <= 0:
        raise ValueError("an interval needs at least one trial")
    z = _normal_quantile(0.5 + level / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _normal_quantile(q: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, as CloudWatch reports p50/p99 of a set of samples."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def arm_figures(observations: Sequence[Observation], policy: ABPolicy | None = None) -> ArmFigures:
    policy = policy or ABPolicy()
    if not observations:
        raise ValueError("an arm without requests has no figures")
    first = observations[0]
    verdicts = [o.correct for o in observations if o.correct is not None]
    latencies = [o.latency_ms for o in observations if o.latency_ms is not None and not o.error]
    confidences = [o.confidence for o in observations if o.confidence is not None and not o.error]
    correct = sum(verdicts)
    interval = wilson_interval(correct, len(verdicts), policy.confidence_level) if verdicts else None
    return ArmFigures(
        route=first.route,
        variant=first.variant,
        model_version=first.model_version,
        requests=len(observations),
        errors=sum(o.error for o in observations),
        feedback=len(verdicts),
        correct=correct,
        accuracy=correct / len(verdicts) if verdicts else None,
        accuracy_low=interval[0] if interval else None,
        accuracy_high=interval[1] if interval else None,
        latency_p50_ms=_percentile(latencies, 50) if latencies else None,
        latency_p99_ms=_percentile(latencies, 99) if latencies else None,
        latency_samples=len(latencies),
        mean_confidence=sum(confidences) / len(confidences) if confidences else None,
        confidence_samples=len(confidences),
    )


def group_arms(observations: Iterable[Observation]) -> dict[tuple[str, str, str], list[Observation]]:
    """Observations per (route, variant, model version), in order of first appearance."""
    arms: dict[tuple[str, str, str], list[Observation]] = {}
    for observation in observations:
        key = (observation.route, observation.variant, observation.model_version)
        arms.setdefault(key, []).append(observation)
    return arms


def fisher_exact(a_hits: int, a_n: int, b_hits: int, b_n: int) -> float:
    """Two-sided p-value of Fisher's exact test on [[a_hits, a_n - a_hits], [b_hits, b_n - b_hits]]."""
    from scipy.stats import fisher_exact as scipy_fisher

    _, p_value = scipy_fisher([[a_hits, a_n - a_hits], [b_hits, b_n - b_hits]], alternative="two-sided")
    return float(p_value)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Mann-Whitney U: (p-value, rank-biserial r, positive when B tends to be larger)."""
    from scipy.stats import mannwhitneyu

    result = mannwhitneyu(b, a, alternative="two-sided")
    r = 2 * float(result.statistic) / (len(a) * len(b)) - 1
    return float(result.pvalue), r


def _verdict(figure: Figure, effect: float, p_value: float, n_a: int, n_b: int, policy: ABPolicy) -> str:
    if min(n_a, n_b) < policy.min_samples or p_value >= policy.alpha:
        return f"no evidence at n={n_a}/{n_b}"
    higher = effect > 0
    better_when_higher = _BETTER_WHEN_HIGHER[figure]
    if better_when_higher is None:
        return "B higher" if higher else "B lower"
    return "B better" if higher == better_when_higher else "B worse"


def compare(
    a: Sequence[Observation], b: Sequence[Observation], policy: ABPolicy | None = None
) -> list[Comparison]:
    """Arm B against arm A, one test per figure (see the module's docstring for which and why)."""
    policy = policy or ABPolicy()
    a_served = [o for o in a if not o.error]
    b_served = [o for o in b if not o.error]
    return [
        _proportions(
            "accuracy",
            [o.correct for o in a if o.correct is not None],
            [o.correct for o in b if o.correct is not None],
            policy,
        ),
        _proportions("error_rate", [o.error for o in a], [o.error for o in b], policy),
        _ranks(
            "latency",
            [o.latency_ms for o in a_served if o.latency_ms is not None],
            [o.latency_ms for o in b_served if o.latency_ms is not None],
            policy,
        ),
        _ranks(
            "confidence",
            [o.confidence for o in a_served if o.confidence is not None],
            [o.confidence for o in b_served if o.confidence is not None],
            policy,
        ),
    ]


def _proportions(figure: Figure, a: Sequence[bool], b: Sequence[bool], policy: ABPolicy) -> Comparison:
    n_a, n_b = len(a), len(b)
    if not n_a or not n_b:
        return Comparison(
            figure=figure,
            test="Fisher exact",
            n_a=n_a,
            n_b=n_b,
            effect=None,
            p_value=None,
            verdict=f"no evidence at n={n_a}/{n_b}",
        )
    a_hits, b_hits = sum(a), sum(b)
    effect = b_hits / n_b - a_hits / n_a
    p_value = fisher_exact(a_hits, n_a, b_hits, n_b)
    return Comparison(
        figure=figure,
        test="Fisher exact",
        n_a=n_a,
        n_b=n_b,
        effect=effect,
        p_value=p_value,
        verdict=_verdict(figure, effect, p_value, n_a, n_b, policy),
    )


def _ranks(figure: Figure, a: Sequence[float], b: Sequence[float], policy: ABPolicy) -> Comparison:
    n_a, n_b = len(a), len(b)
    if not n_a or not n_b:
        return Comparison(
            figure=figure,
            test="Mann-Whitney U",
            n_a=n_a,
            n_b=n_b,
            effect=None,
            p_value=None,
            verdict=f"no evidence at n={n_a}/{n_b}",
        )
    p_value, r = mann_whitney(a, b)
    return Comparison(
        figure=figure,
        test="Mann-Whitney U",
        n_a=n_a,
        n_b=n_b,
        effect=r,
        p_value=p_value,
        verdict=_verdict(figure, r, p_value, n_a, n_b, policy),
    )


class ABReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    route: str
    arms: list[ArmFigures]
    # Each other arm of the route against the baseline arm A (see build_report).
    comparisons: dict[str, list[Comparison]]
    baseline: str | None


def build_report(
    route: str,
    observations: Iterable[Observation],
    policy: ABPolicy | None = None,
    *,
    baseline_variant: str | None = None,
) -> ABReport:
    """A is the busiest arm of `baseline_variant` (the incumbent: the route's first variant, which
    a rollout replaces last), or of the whole route when that variant served nothing."""
    policy = policy or ABPolicy()
    arms = {key: rows for key, rows in group_arms(observations).items() if key[0] == route}
    if not arms:
        return ABReport(route=route, arms=[], comparisons={}, baseline=None)
    incumbent = [key for key in arms if key[1] == baseline_variant] or list(arms)
    baseline_key = max(incumbent, key=lambda key: len(arms[key]))
    baseline = arm_figures(arms[baseline_key], policy).arm
    # A first, in the table and the plot; the others as they first appeared.
    figures = [
        arm_figures(arms[key], policy) for key in [baseline_key, *(k for k in arms if k != baseline_key)]
    ]
    comparisons = {
        f"{key[1]}@{key[2]}": compare(arms[baseline_key], rows, policy)
        for key, rows in arms.items()
        if key != baseline_key
    }
    return ABReport(route=route, arms=figures, comparisons=comparisons, baseline=baseline)


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_markdown(report: ABReport) -> str:
    lines = [f"## route `{report.route}`", ""]
    if not report.arms:
        return "\n".join([*lines, "No served requests recorded on this route.", ""])
    lines += [
        "| arm (variant@version) | requests | errors | error rate | feedback | accuracy | 95% Wilson | p50 ms | p99 ms | mean confidence |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm in report.arms:
        interval = (
            f"{arm.accuracy_low:.3f}-{arm.accuracy_high:.3f}"
            if arm.accuracy_low is not None and arm.accuracy_high is not None
            else "-"
        )
        lines.append(
            f"| {arm.arm}{' (A)' if arm.arm == report.baseline else ''} | {arm.requests} | {arm.errors} "
            f"| {_fmt(arm.error_rate, 3)} | {arm.feedback} | {_fmt(arm.accuracy, 3)} | {interval} "
            f"| {_fmt(arm.latency_p50_ms, 0)} | {_fmt(arm.latency_p99_ms, 0)} | {_fmt(arm.mean_confidence, 3)} |"
        )
    for challenger, comparisons in report.comparisons.items():
        lines += [
            "",
            f"B = `{challenger}` against A = `{report.baseline}`:",
            "",
            "| figure | test | n A / B | effect (B vs A) | p-value | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for c in comparisons:
            lines.append(
                f"| {c.figure} | {c.test} | {c.n_a} / {c.n_b} | {_fmt(c.effect, 3)} "
                f"| {'-' if c.p_value is None else f'{c.p_value:.3g}'} | {c.verdict} |"
            )
    lines.append("")
    return "\n".join(lines)
