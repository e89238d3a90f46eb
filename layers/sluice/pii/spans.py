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


def resolve(spans: Iterable[Span], text: str) -> list[Span]:
    """Disjoint spans sorted by start: where spans overlap, the better one (higher score, then
    longer, then earlier) keeps the overlap and the other keeps what sticks out of it.

    Keeping the remainder matters for redaction: in "John Smithjohn@example.com" the e-mail wins
    "Smithjohn", yet "John" must still go. A remainder without a letter or digit is dropped.
    """
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
