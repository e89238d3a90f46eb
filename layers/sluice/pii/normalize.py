"""Folds text so that invisible or look-alike characters cannot hide a value, keeping offsets.

Detection runs on the folded text; every folded character remembers the index of the original
character it came from, so spans map back to the caller's text and cover the hidden characters
too (a zero-width space inside an e-mail address is redacted with it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Characters that render as nothing. Category Cf covers zero-width spaces and joiners, bidi
# controls, the BOM, soft hyphen and tag characters; the rest are fillers and selectors that are
# not Cf but are just as invisible.
_INVISIBLE_EXTRA = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
)


# ASCII control characters other than tab and line breaks: invisible, so folded away.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    code = ord(ch)
    category = unicodedata.category(ch)
    if category == "Cf" or code in _INVISIBLE_EXTRA or (category == "Cc" and ch not in "\t\n\r"):
        return ""
    if category == "Zs":
        return " "
    if category == "Pd":
        return "-"
    # NFKC maps full-width and mathematical letters, ligatures and super/subscript digits to the
    # plain characters the recognizers look for (a full-width at-sign becomes "@").
    return unicodedata.normalize("NFKC", ch)


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text and, unless it is the original itself, the original index of each character."""

    text: str
    origin: tuple[int, ...] | None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        if self.origin is None:
            return start, end
        return self.origin[start], self.origin[end - 1] + 1


def fold(text: str) -> Folded:
    # Fast path: plain ASCII text without control characters folds to itself.
    if text.isascii() and not _ASCII_CONTROL.search(text):
        return Folded(text, None)
    out: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        folded = ch if " " <= ch <= "~" or ch in "\t\n\r" else _fold_char(ch)
        out.append(folded)
        origin.extend([index] * len(folded))
    return Folded("".join(out), tuple(origin))
