"""PERSON and LOCATION in noisy user text: the learned tagger with the word lists (issue 14)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice import pii
from sluice.pii import tagger
from sluice.pii.recognizers import Doc
from sluice.pii.spans import Span, overlaps_any, resolve


def redacted(text: str) -> str:
    return str(pii.redact(text, pii.RedactionPolicy()).text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Each of these reached the model unredacted, or half redacted, before the tagger.
        ("Hi, this is Priyanka Vasquez-Oyelaran.", "Hi, this is <PERSON>."),
        ("Hi, this is Priyanka Oyelaran. I lost my card", "Hi, this is <PERSON>. I lost my card"),
        ("my name is jane doe", "my name is <PERSON>"),
        ("Hi, this is Zebulon Quartermaine, I lost my card", "Hi, this is <PERSON>, I lost my card"),
    ],
)
def test_names_the_word_lists_missed_are_redacted_whole(text: str, expected: str) -> None:
    assert redacted(text) == expected


def test_a_name_span_does_not_run_over_a_comma_into_the_next_clause() -> None:
    # Given a name followed by a comma and a capitalised pronoun
    text = "Hi, this is Zebulon Quartermaine, I lost my card"

    # When it is detected
    spans = [s for s in pii.detect(text) if s.entity_type == "PERSON"]

    # Then the span is the name, and nothing after it
    assert [text[s.start : s.end] for s in spans] == ["Zebulon Quartermaine"]


@pytest.mark.parametrize(
    ("text", "value", "entity_type"),
    [
        ("RT @johnsmith: great game tonight", "@johnsmith", "PERSON"),
        ("i met tanner in amsterdam yesterday", "tanner", "PERSON"),
        ("i met tanner in amsterdam yesterday", "amsterdam", "LOCATION"),
        ("lol kylie just landed in manchester", "kylie", "PERSON"),
    ],
)
def test_lower_case_names_handles_and_places_in_chat_text(text: str, value: str, entity_type: str) -> None:
    spans = pii.detect(text)

    assert value in [text[s.start : s.end] for s in spans if s.entity_type == entity_type]


def test_a_lone_everyday_word_is_not_a_person() -> None:
    assert pii.detect("Capitalized words like Wisdom and Discipline") == []


def test_tagger_spans_never_start_or_end_on_punctuation() -> None:
    # Given text where a name is followed by a full stop and a comma
    text = "Thanks Maria Lopez. Also, Tom."

    # When the tagger alone reads it
    spans = list(tagger.Tagger().find(Doc(text)))

    # Then every span begins and ends with a letter or digit
    assert spans
    assert all(text[s.start].isalnum() and text[s.end - 1].isalnum() for s in spans)


def test_importing_sluice_pii_does_not_load_the_model() -> None:
    # The model loads in warm() (a Lambda's init) or on the first detect, never at import.
    probe = "import sluice.pii; from sluice.pii import tagger; print(tagger.model.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "0"


def test_warm_loads_the_model() -> None:
    pii.warm()
    assert tagger.model.cache_info().currsize == 1


def test_the_time_budget_grows_with_the_input_limit() -> None:
    small, large = pii.time_budget_for(5 * 1024), pii.time_budget_for(256 * 1024)

    assert small >= pii.DEFAULT_TIME_BUDGET_MS
    assert large > small
    # Linear: twice the input, twice the time above the floor.
    floor = pii.time_budget_for(0)
    assert pii.time_budget_for(512 * 1024) - floor == pytest.approx(2 * (large - floor))


def test_a_refusal_tells_the_client_when_to_retry() -> None:
    assert pii.PiiDetectionTimeout("over budget").retry_after_seconds == 1
    assert pii.PiiDetectionError("failed").retry_after_seconds == 1


def _resolve_by_comparison(spans: list[Span], text: str) -> list[Span]:
    """The original quadratic resolve: the reference the bisecting one must agree with."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        pieces = [(span.start, span.end)]
        for other in kept:
            pieces = [
                part
                for start, end in pieces
                for part in ((start, min(end, other.start)), (max(start, other.end), end))
                if part[0] < part[1]
            ]
        for start, end in pieces:
            if any(ch.isalnum() for ch in text[start:end]):
                kept.append(Span(start, end, span.entity_type, span.score))
    kept.sort(key=lambda s: s.start)
    return kept


SPANS = st.lists(
    st.tuples(
        st.integers(0, 40),
        st.integers(1, 12),
        st.sampled_from(["PERSON", "LOCATION"]),
        st.sampled_from([0.5, 0.8]),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(SPANS, st.text(alphabet="ab ,.", min_size=60, max_size=60))
def test_resolve_agrees_with_the_pairwise_reference(
    raw: list[tuple[int, int, str, float]], text: str
) -> None:
    spans = [Span(start, start + length, kind, score) for start, length, kind, score in raw]

    assert resolve(spans, text) == _resolve_by_comparison(spans, text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(1, 5)), max_size=10),
    st.integers(0, 60),
    st.integers(1, 8),
)
def test_overlaps_any_agrees_with_a_scan(raw: list[tuple[int, int]], start: int, length: int) -> None:
    intervals: list[tuple[int, int]] = []
    for s, n in sorted(raw):
        if not intervals or s >= intervals[-1][1]:
            intervals.append((s, s + n))
    end = start + length

    assert overlaps_any(start, end, intervals) == any(start < e and s < end for s, e in intervals)


@pytest.mark.parametrize(
    "text",
    [
        # Banking questions (the intent route's traffic) the tagger used to redact parts of.
        "I was charged twice at the store earlier today, Why?",
        "Why did I get a pound charge on my card?",
    ],
)
def test_everyday_lower_case_words_in_cased_text_are_not_places(text: str) -> None:
    assert [s for s in pii.detect(text) if s.entity_type == "LOCATION"] == []


def test_a_lower_case_place_in_cased_text_is_still_found() -> None:
    text = "going to london tonight with Sarah!"

    assert [text[s.start : s.end] for s in pii.detect(text)] == ["london", "Sarah"]
