"""The moderation check: a lexicon of phrases and, optionally, a classifier behind a port.

Text and phrases are folded the same way (NFKD without marks, case-folded, every run of
non-alphanumerics one space) and compared on word boundaries. What tripped the check is reported
as a category, never as the phrase or the text: the phrase quotes the output.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sluice.guardrails.models import ModerationCheck
from sluice.guardrails.ports import ModerationClassifier

LEXICONS = Path(__file__).resolve().parent / "lexicon"
_NOT_WORD = re.compile(r"[^0-9a-z]+")
CUSTOM = "custom"


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return f" {_NOT_WORD.sub(' ', plain).strip()} "


@cache
def shipped_lexicon(name: str) -> tuple[tuple[str, str], ...]:
    """(category, folded phrase) pairs of a lexicon shipped with the layer."""
    pairs = []
    for line in (LEXICONS / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        category, _, phrase = line.partition(":")
        pairs.append((category.strip(), fold(phrase)))
    return tuple(pairs)


@dataclass(frozen=True)
class ModerationVerdict:
    """The categories that tripped the check (empty: it passed); `unavailable`: the classifier failed."""

    categories: tuple[str, ...] = ()
    unavailable: bool = False

    @property
    def tripped(self) -> bool:
        return bool(self.categories) or self.unavailable


class Moderator:
    def __init__(self, classifier: ModerationClassifier | None = None) -> None:
        # None: the lexicon only (the default). Another model can be plugged in here.
        self._classifier = classifier

    def judge(self, texts: Sequence[str], policy: ModerationCheck) -> ModerationVerdict:
        folded = [fold(text) for text in texts]
        categories = set(_lexicon_hits(folded, _phrases(policy)))
        unavailable = False
        if self._classifier is not None and texts:
            try:
                scores = self._classifier.classify(list(texts))
            except Exception:
                # Fails closed: an output nobody could judge is handled as one that tripped.
                unavailable = True
            else:
                categories |= {
                    category
                    for item in scores
                    for category, score in item.items()
                    if score >= policy.classifier_threshold
                }
        return ModerationVerdict(categories=tuple(sorted(categories)), unavailable=unavailable)


def _phrases(policy: ModerationCheck) -> tuple[tuple[str, str], ...]:
    shipped = shipped_lexicon("default") if policy.lexicon == "default" else ()
    return (*shipped, *((CUSTOM, fold(term)) for term in policy.terms))


def _lexicon_hits(texts: Iterable[str], phrases: Iterable[tuple[str, str]]) -> Iterable[str]:
    pairs = tuple(phrases)
    for text in texts:
        for category, phrase in pairs:
            if phrase.strip() and phrase in text:
                yield category
