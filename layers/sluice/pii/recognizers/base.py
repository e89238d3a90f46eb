"""What every recognizer shares: the document it reads, context words, and regex-driven matching."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from sluice.pii.spans import Span

_DIGIT = re.compile(r"\d")
# Our own redaction output: `<EMAIL_ADDRESS>`, `<PERSON_7f3a9c2b1d4e>`, `<US_SSN#9c1d2e3f4a5b6c7d>`.
# Recognizers see it as a run of "x": a word, like most values it replaced, so the characters
# around it keep the boundaries they had (redacting a redacted text changes nothing), and
# "<US_SSN>" is not the context word "ssn" for a number next to it.
REDACTION_TOKEN = re.compile(r"<[A-Z][A-Z0-9_]{1,40}(?:_[0-9a-f]{12}|#[0-9a-f]{16})?>")
_WORD = re.compile(r"[^\W\d_]+")


class Doc:
    """The (folded) text under inspection, with facts computed once for all recognizers."""

    __slots__ = ("has_digit", "protected", "text")

    def __init__(self, text: str) -> None:
        self.protected: list[tuple[int, int]] = []
        if "<" in text:
            self.protected = [m.span() for m in REDACTION_TOKEN.finditer(text)]
            for start, end in self.protected:
                text = text[:start] + "x" * (end - start) + text[end:]
        self.text = text
        # Most chat text has no digit at all: numeric recognizers skip it without running a regex.
        self.has_digit = _DIGIT.search(text) is not None

    def words_near(self, start: int, end: int, *, before: int = 48, after: int = 24) -> set[str]:
        """Lower-case words around text[start:end]: context such as "ssn", "routing", "passport"."""
        window = self.text[max(0, start - before) : start] + " " + self.text[end : end + after]
        return set(_WORD.findall(window.lower()))


class Recognizer(Protocol):
    def find(self, doc: Doc) -> Iterable[Span]: ...


def always(_: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class PatternRecognizer:
    """A regex proposes candidates, `validate` checks them, context words near them raise the score.

    `score` is the confidence without context; a candidate that only counts as PII next to a
    context word (nine bare digits near "routing") has a low `score` and a high `context_score`.
    """

    entity_type: str
    pattern: re.Pattern[str]
    score: float
    validate: Callable[[str], bool] = always
    context: frozenset[str] = field(default_factory=frozenset)
    context_score: float = 0.0
    needs_digit: bool = True
    group: int = 0

    def find(self, doc: Doc) -> Iterator[Span]:
        if self.needs_digit and not doc.has_digit:
            return
        for match in self.pattern.finditer(doc.text):
            start, end = match.span(self.group)
            if not self.validate(match.group(self.group)):
                continue
            score = self.score
            if self.context_score > score and self.context & doc.words_near(start, end):
                score = self.context_score
            yield Span(start, end, self.entity_type, score)


def words(*values: str) -> frozenset[str]:
    return frozenset(w for value in values for w in value.split())
