"""PERSON and LOCATION without a language model: gazetteers, word frequencies and context.

Casing is evidence, not a requirement: chat text writes "tanner" and "amsterdam". A lower-case
word counts as a name when it is far more common as a name than as a word (see
`Lexicon.name_excess`); capitalised words need less evidence, sentence-initial ones more.
Context words ("my name is", "Mr.", "lives in", "moved to") settle what the lists cannot.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from sluice.pii.lexicon import Lexicon, lexicon
from sluice.pii.recognizers.base import Doc
from sluice.pii.spans import Span

_TOKEN = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")
_POSSESSIVE = ("'s", "\u2019s")
_SENTENCE_END = frozenset('.!?\n:;>\u2022*"\u201c(')

_TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "madam",
        "mister",
        "lord",
        "lady",
        "rev",
        "fr",
        "sr",
        "sra",
        "mme",
        "mlle",
        "herr",
        "frau",
    ]
)
# Words after which the next capitalised (or name-listed) word is a person.
_PERSON_CUES = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "dear",
        "thanks",
        "thank",
        "bye",
        "love",
        "congrats",
        "congratulations",
        "ask",
        "tell",
        "told",
        "says",
        "said",
        "meet",
        "met",
        "asked",
        "called",
        "named",
        "name's",
        "is_name",
    ]
)
_STRONG_PERSON_CUES = (("my", "name", "is"), ("name", "is"), ("call", "me"), ("named",), ("name",), ("i'm",))
# How callers introduce themselves ("Hi, this is Priyanka"): a cue for capitalised words only,
# since "this is awesomeee" is not a name.
_INTRODUCTION_CUES = (("this", "is"), ("it's",), ("here", "is"))
_CUE_WORDS = frozenset(word for cue in (*_STRONG_PERSON_CUES, *_INTRODUCTION_CUES) for word in cue) | {"im"}
_PLACE_CUES = frozenset(
    [
        "in",
        "from",
        "to",
        "at",
        "near",
        "visit",
        "visiting",
        "visited",
        "live",
        "lives",
        "living",
        "lived",
        "moved",
        "move",
        "born",
        "grew",
        "around",
        "across",
        "outside",
        "inside",
        "city",
        "town",
        "village",
        "country",
        "state",
        "downtown",
    ]
)
# Countries and states that are everyday words when written in lower case.
_LOWER_REGION_WORDS = frozenset(
    ["turkey", "chile", "jordan", "georgia", "jersey", "guinea", "chad", "niger", "mali", "man", "us"]
)


@dataclass(slots=True)
class _Token:
    start: int
    end: int
    text: str
    key: str  # case-folded, possessive removed
    folded: str  # key without diacritics
    shape: str  # "lower", "title", "upper" or "mixed"
    initial: bool  # first word of a sentence or line
    spaced: bool  # only spaces between this token and the one before: a name may run on


def _shape(word: str) -> str:
    if word.islower():
        return "lower"
    if word.isupper():
        return "upper" if len(word) > 1 else "title"
    if word[0].isupper() and word[1:].islower():
        return "title"
    return "mixed" if word[0].isupper() else "lower"


def _fold(key: str) -> str:
    if key.isascii():
        return key
    return "".join(ch for ch in unicodedata.normalize("NFKD", key) if not unicodedata.combining(ch))


def tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(text):
        word = match.group()
        end = match.end()
        if word.endswith(_POSSESSIVE):
            word, end = word[:-2], end - 2
        i = match.start() - 1
        while i >= 0 and text[i] in " \t'\u2018\"\u201c([-":
            i -= 1
        initial = i < 0 or text[i] in _SENTENCE_END
        key = word.casefold()
        gap = text[tokens[-1].end : match.start()] if tokens else ""
        spaced = not gap.strip(" \t")
        tokens.append(_Token(match.start(), end, word, key, _fold(key), _shape(word), initial, spaced))
    return tokens


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Tunable evidence levels (Zipf frequencies and name excesses), tuned on the tuning split only."""

    cap_name_excess: float = 2.6  # capitalised, mid-sentence first name
    initial_name_excess: float = 1.3  # capitalised, first word of a sentence
    lower_name_excess: float = 1.0  # lower-case first name
    lower_name_zipf: float = 4.7
    surname_excess: float = 1.0  # capitalised surname on its own
    rare_zipf: float = 3.0  # below this a word is rare enough to be a proper noun
    cap_city_zipf: float = 4.0
    lower_city_zipf: float = 2.5
    lower_region_zipf: float = 5.4
    proper_noun_score: float = 0.45  # capitalised rare word with no other evidence


class PeopleAndPlaces:
    """Recognizer for PERSON and LOCATION. Loads the lexicon on first use."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.t = thresholds or Thresholds()

    def find(self, doc: Doc) -> Iterator[Span]:
        lex = lexicon()
        tokens = tokenize(doc.text)
        i = 0
        while i < len(tokens):
            span, consumed = self._at(lex, tokens, i)
            if span is not None:
                yield span
            i += consumed

    # -- one position -------------------------------------------------------------------------

    def _at(self, lex: Lexicon, tokens: list[_Token], i: int) -> tuple[Span | None, int]:
        tok = tokens[i]
        prev = [t.key for t in tokens[max(0, i - 3) : i]]
        place_cue = bool(prev) and prev[-1] in _PLACE_CUES

        if (
            tok.key.rstrip(".") in _TITLES
            and i + 1 < len(tokens)
            and self._name_like(lex, tokens[i + 1], True)
        ):
            n = 1 + self._extend(lex, tokens, i + 2)
            return Span(tok.start, tokens[i + n].end, "PERSON", 0.85), n + 1

        place = self._place(lex, tokens, i, place_cue)
        person = self._first_name_score(lex, tok)
        if place is not None and (person == 0.0 or place_cue or place[1] > 1):
            end, n, score = place
            return Span(tok.start, end, "LOCATION", score), n

        strong = any(tuple(prev[-len(cue) :]) == cue for cue in _STRONG_PERSON_CUES)
        cue = (bool(prev) and prev[-1] in _PERSON_CUES) or any(
            tuple(prev[-len(c) :]) == c for c in _INTRODUCTION_CUES
        )
        # A cue word is not the name it introduces: "Hi, I'm John" names John, not "I'm".
        introducing = tok.key in _CUE_WORDS
        if not introducing and (
            (person == 0.0 and tok.shape != "lower" and (cue or strong) and lex.zipf(tok.key) < 4.5)
            or (person == 0.0 and strong and lex.zipf(tok.key) < 3.5 and len(tok.key) > 1)
        ):
            person = 0.7
        if person == 0.0 and tok.shape != "lower" and not tok.initial:
            share = lex.last_names.get(tok.key, -1)
            if share >= 0 and lex.name_excess(tok.key, share) < self.t.surname_excess:
                person = 0.6
        if person > 0.0:
            n = self._extend(lex, tokens, i + 1) if i + 1 < len(tokens) else 0
            last = tokens[i + n]
            return Span(tok.start, last.end, "PERSON", min(0.95, person + 0.1 * (n > 0))), n + 1

        if place_cue and tok.shape != "lower" and lex.zipf(tok.key) < self.t.rare_zipf:
            return Span(tok.start, tok.end, "LOCATION", 0.55), 1
        if (
            tok.shape in ("title", "mixed")
            and not tok.initial
            and len(tok.key) > 2
            and lex.zipf(tok.key) < self.t.rare_zipf
        ):
            return Span(tok.start, tok.end, "PERSON", self.t.proper_noun_score), 1
        return None, 1

    # -- evidence ------------------------------------------------------------------------------

    def _first_name_score(self, lex: Lexicon, tok: _Token) -> float:
        share = lex.first_names.get(tok.key, lex.first_names.get(tok.folded, -1))
        if share < 0 or len(tok.key) < 2:
            return 0.0
        excess = lex.name_excess(tok.key, share)
        if tok.shape == "lower":
            ok = excess < self.t.lower_name_excess and lex.zipf(tok.key) < self.t.lower_name_zipf
            return 0.6 if ok else 0.0
        limit = self.t.initial_name_excess if tok.initial else self.t.cap_name_excess
        return 0.75 if excess < limit else 0.0

    def _name_like(self, lex: Lexicon, tok: _Token, capitalised_only: bool) -> bool:
        """Could continue a name: a surname, another given name, an initial, or a rare word."""
        if tok.shape == "lower" and capitalised_only:
            return tok.key in lex.last_names and lex.zipf(tok.key) == 0.0
        if tok.shape == "lower":
            return lex.zipf(tok.key) == 0.0 and len(tok.key) > 2
        return (
            len(tok.key) == 1
            or tok.key in lex.last_names
            or tok.key in lex.first_names
            or lex.zipf(tok.key) < self.t.rare_zipf
        )

    def _extend(self, lex: Lexicon, tokens: list[_Token], j: int) -> int:
        """How many of tokens[j:j+3] continue the name (adjacent, same line, name-like)."""
        n = 0
        first = tokens[j - 1]
        while j + n < len(tokens) and n < 3:
            tok, before = tokens[j + n], tokens[j + n - 1]
            # "Zebulon Quartermaine, I lost my card": a comma ends the name, "I" is not an initial.
            if tok.initial or not tok.spaced or tok.start - before.end > 2:
                break
            if not self._name_like(lex, tok, capitalised_only=first.shape != "lower"):
                break
            n += 1
        return n

    def _place(self, lex: Lexicon, tokens: list[_Token], i: int, cue: bool) -> tuple[int, int, float] | None:
        """(end offset, tokens used, score) of the longest place starting at tokens[i]."""
        tok = tokens[i]
        longest = min(lex.place_heads.get(tok.key, lex.place_heads.get(tok.folded, 1)), len(tokens) - i)
        for n in range(longest, 1, -1):
            words = tokens[i : i + n]
            if any(words[k + 1].start - words[k].end > 1 for k in range(n - 1)):
                continue
            key = " ".join(w.key for w in words)
            folded = " ".join(w.folded for w in words)
            if key in lex.regions or key in lex.cities or folded in lex.cities or folded in lex.regions:
                capitalised = sum(w.shape != "lower" for w in words)
                rare = min(lex.zipf(w.key) for w in words) < 3.5
                if capitalised == n or (rare and (capitalised or cue)) or key in lex.regions:
                    return words[-1].end, n, 0.8
        zipf = lex.zipf(tok.key)
        if tok.key in lex.regions or tok.folded in lex.regions:
            if tok.shape != "lower":
                return tok.end, 1, 0.85
            if zipf < self.t.lower_region_zipf and tok.key not in _LOWER_REGION_WORDS:
                return tok.end, 1, 0.7
            return None
        if tok.key in lex.cities or tok.folded in lex.cities:
            if tok.shape != "lower" and len(tok.key) > 2:
                limit = self.t.cap_city_zipf + (1.0 if cue else 0.0) - (1.0 if tok.initial else 0.0)
                if zipf < limit:
                    return tok.end, 1, 0.7
            elif zipf < self.t.lower_city_zipf + (1.0 if cue else 0.0) and len(tok.key) > 3:
                return tok.end, 1, 0.6
        return None
