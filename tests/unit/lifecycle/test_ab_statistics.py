"""The A/B statistics: Wilson intervals, the tests per figure and their plain verdicts."""

from __future__ import annotations

import random

import pytest

from sluice.lifecycle.ab import (
    ABPolicy,
    Observation,
    arm_figures,
    build_report,
    compare,
    render_markdown,
    wilson_interval,
)


def arm(
    variant: str,
    n: int,
    *,
    correct_share: float = 0.9,
    error_share: float = 0.0,
    latency: float = 50.0,
    confidence: float = 0.8,
    seed: int = 0,
) -> list[Observation]:
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        rows.append(
            Observation(
                route="intent",
                variant=variant,
                model_version=f"{variant}-v",
                error=index < round(n * error_share),
                latency_ms=latency * rng.uniform(0.8, 1.2),
                confidence=min(1.0, confidence * rng.uniform(0.9, 1.1)),
                correct=index < round(n * correct_share),
            )
        )
    rng.shuffle(rows)
    return rows


def by_figure(a: list[Observation], b: list[Observation]) -> dict[str, object]:
    return {c.figure: c for c in compare(a, b)}


def test_wilson_interval_matches_the_textbook_case_and_stays_inside_zero_one() -> None:
    # Given 81 successes in 263 trials (Newcombe 1998's worked example, 95%: 0.2553-0.3662)
    # When / Then
    low, high = wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=5e-4)
    assert high == pytest.approx(0.3662, abs=5e-4)
    # and at 0 of 10 it is not the degenerate Wald interval [0, 0]
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12)
    assert 0.25 < high < 0.35


def test_a_clear_difference_is_significant_in_the_right_direction() -> None:
    # Given B answering right 60% of the time against A's 92%, twice as slow, less confident, failing more
    a = arm("primary", 400, correct_share=0.92, error_share=0.01, latency=40, confidence=0.85, seed=1)
    b = arm("canary", 400, correct_share=0.60, error_share=0.08, latency=80, confidence=0.55, seed=2)

    # When
    figures = by_figure(a, b)

    # Then every figure is significant, and "worse" where lower or higher is better
    assert figures["accuracy"].verdict == "B worse"  # type: ignore[attr-defined]
    assert figures["accuracy"].p_value < 1e-6  # type: ignore[attr-defined]
    assert figures["accuracy"].test == "Fisher exact"  # type: ignore[attr-defined]
    assert figures["error_rate"].verdict == "B worse"  # type: ignore[attr-defined]
    assert figures["latency"].verdict == "B worse"  # type: ignore[attr-defined]
    assert figures["latency"].test == "Mann-Whitney U"  # type: ignore[attr-defined]
    assert figures["confidence"].verdict == "B lower"  # type: ignore[attr-defined]
    # and swapping the arms swaps the verdicts
    swapped = by_figure(b, a)
    assert swapped["accuracy"].verdict == "B better"  # type: ignore[attr-defined]
    assert swapped["latency"].verdict == "B better"  # type: ignore[attr-defined]


def test_equal_arms_are_no_evidence() -> None:
    # Given two arms drawn the same way
    a = arm("primary", 300, seed=3)
    b = arm("canary", 300, seed=4)

    # When
    figures = compare(a, b)

    # Then no figure claims a difference
    assert [c.verdict for c in figures] == ["no evidence at n=300/300"] * 2 + ["no evidence at n=300/300"] * 2
    assert all(c.p_value is not None and c.p_value > 0.05 for c in figures)


def test_tiny_samples_say_no_evidence_even_when_the_arms_look_different() -> None:
    # Given 5 requests per arm, all right on A and all wrong on B
    a = arm("primary", 5, correct_share=1.0, latency=10)
    b = arm("canary", 5, correct_share=0.0, latency=500)

    # When
    figures = by_figure(a, b)

    # Then the verdict is "no evidence" with the sample sizes, whatever the p-value
    assert figures["accuracy"].verdict == "no evidence at n=5/5"  # type: ignore[attr-defined]
    assert figures["latency"].verdict == "no evidence at n=5/5"  # type: ignore[attr-defined]


def test_an_arm_without_feedback_has_no_accuracy_and_no_test() -> None:
    # Given B without any feedback
    a = arm("primary", 50)
    b = [o.model_copy(update={"correct": None}) for o in arm("canary", 50)]

    # When
    figures = by_figure(a, b)

    # Then
    assert figures["accuracy"].p_value is None  # type: ignore[attr-defined]
    assert figures["accuracy"].verdict == "no evidence at n=50/0"  # type: ignore[attr-defined]
    assert arm_figures(b).accuracy is None


def test_arm_figures_count_requests_errors_and_percentiles() -> None:
    # Given 100 requests with latencies 1..100 ms, 3 failed, 40 with feedback of which 30 right
    rows = [
        Observation(
            route="intent",
            variant="primary",
            model_version="v1",
            error=n < 3,
            latency_ms=float(n + 1),
            confidence=0.5,
            correct=(n < 33) if 3 <= n < 43 else None,
        )
        for n in range(100)
    ]

    # When
    figures = arm_figures(rows)

    # Then failed requests count as errors, not in latency or confidence
    assert (figures.requests, figures.errors, figures.feedback, figures.correct) == (100, 3, 40, 30)
    assert figures.error_rate == pytest.approx(0.03)
    assert figures.accuracy == pytest.approx(0.75)
    assert figures.latency_samples == 97
    assert figures.latency_p50_ms == 52.0
    assert figures.latency_p99_ms == 100.0
    assert figures.accuracy_low is not None
    assert figures.accuracy_low < 0.75 < (figures.accuracy_high or 0)


def test_the_report_takes_the_busiest_arm_as_a_and_renders_both_tables() -> None:
    # Given a 3:1 split
    rows = arm("primary", 120, seed=5) + arm("canary", 40, correct_share=0.5, seed=6)

    # When
    report = build_report("intent", rows, ABPolicy())
    text = render_markdown(report)

    # Then
    assert report.baseline == "primary@primary-v"
    assert list(report.comparisons) == ["canary@canary-v"]
    assert "| primary@primary-v (A) | 120 |" in text
    assert "| accuracy | Fisher exact | 120 / 40 |" in text
    assert "| B worse |" in text


def test_the_incumbent_variant_is_a_even_when_the_canary_served_more() -> None:
    # Given a canary that happened to serve more requests than the incumbent
    rows = arm("primary", 40, seed=7) + arm("canary", 60, seed=8)

    # When the report is told the incumbent
    report = build_report("intent", rows, baseline_variant="primary")

    # Then A is the incumbent, listed first, and B the canary
    assert report.baseline == "primary@primary-v"
    assert [a.arm for a in report.arms] == ["primary@primary-v", "canary@canary-v"]
    assert list(report.comparisons) == ["canary@canary-v"]
