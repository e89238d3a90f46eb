"""The detector's output (a `Span` over the caller's original text) and overlap resolution."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """One detected value: `text[start:end]` (Python offsets, end exclusive) is an `entity_type`."""

    start: int
    end: int
    entity_type: str
    score: float

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def __len__(self) -> int:
        return self.end - self.start


def resolve(spans: Iterable[Span]) -> list[Span]:
    """Keeps the best of overlapping spans (higher score, then longer, then earlier), sorted by start.

    The result is disjoint, so a redactor can replace spans right to left without offset fixes.
    """
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if span.end > span.start and not any(span.overlaps(k) for k in kept):
            kept.append(span)
    kept.sort(key=lambda s: s.start)
    return kept
