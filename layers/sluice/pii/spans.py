"""The detector's output (a `Span` over the caller's original text) and overlap resolution."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

# A letter or digit (`str.isalnum`): `\w` without the underscore.
_ALNUM = re.compile(r"[^\W_]")


@dataclass(frozen=True, slots=True)
class Span:
    """One detected value: `text[start:end]` (Python offsets, end exclusive) is an `entity_type`."""

    start: int
    end: int
    entity_type: str
    score: float

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


def resolve(spans: Iterable[Span], text: str) -> list[Span]:
    """Disjoint spans sorted by start: where spans overlap, the better one (higher score, then
    longer, then earlier) keeps the overlap and the other keeps what sticks out of it.

    Keeping the remainder matters for redaction: in "John Smithjohn@example.com" the e-mail wins
    "Smithjohn", yet "John" must still go. A remainder without a letter or digit is dropped.

    The spans kept so far are disjoint, so they sit in start order with their ends in order too:
    the ones a new span overlaps are found by bisection, which keeps a long text (thousands of
    spans) near n log n instead of comparing every span with every other.
    """
    starts: list[int] = []
    ends: list[int] = []
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        first = bisect_right(ends, span.start)  # the first kept span ending after this one starts
        pieces = []
        cursor = span.start
        j = first
        while j < len(starts) and starts[j] < span.end:
            if starts[j] > cursor:
                pieces.append((cursor, starts[j]))
            cursor = max(cursor, ends[j])
            j += 1
        if cursor < span.end:
            pieces.append((cursor, span.end))
        for start, end in pieces:
            if _ALNUM.search(text, start, end):
                at = bisect_right(starts, start)
                starts.insert(at, start)
                ends.insert(at, end)
                kept.insert(at, Span(start, end, span.entity_type, span.score))
    return kept


def overlaps_any(start: int, end: int, intervals: list[tuple[int, int]]) -> bool:
    """Whether [start, end) overlaps one of `intervals` (disjoint, sorted by start)."""
    at = bisect_right(intervals, (start, float("inf")))
    return (at > 0 and intervals[at - 1][1] > start) or (at < len(intervals) and intervals[at][0] < end)
