"""PERSON and LOCATION from a learned sequence tagger: a linear-chain CRF over word features.

The weights (`data/person_location_crf.json.gz`) are trained on the Broad Twitter Corpus by
tools/train_pii_tagger.py, which imports the feature functions below, so training and inference
see the same tokens and the same features. Inference is pure Python and linear in the text:

* every feature describes one token as seen from a fixed offset (the token itself, or the one
  or two before or after it), so a token's emission scores are a sum of five vectors, each a
  function of one word string; those vectors are cached per word, and most of a text's words
  repeat;
* Viterbi over seven labels (O and B-/I- of PER, LOC, ORG: ORG is learned so that "Apple" or
  "Chelsea" in an organisation's role is not called a person or a place, and is never emitted).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from operator import add

from sluice.pii.lexicon import Lexicon, lexicon
from sluice.pii.recognizers.base import Doc
from sluice.pii.spans import Span

MODEL_FILE = "person_location_crf.json.gz"
# Offsets whose token features a token's score sees. Changing it means retraining.
OFFSETS = (-2, -1, 0, 1, 2)
_EMITTED = {"PER": "PERSON", "LOC": "LOCATION"}

# Handles, hashtags and links stay whole; words keep inner apostrophes, hyphens and dots
# ("o'neil", "vasquez-oyelaran", "u.s"); anything else is one character per token.
TOKEN = re.compile(
    r"https?://\S+|www\.\S+|[@#][^\W_]\w*|[^\W_]+(?:['\u2019\-.][^\W_]+)*|\S",
)
_SENTENCE_END = frozenset(".!?:;\n\u2026")
# Cached vectors: a hostile text of unique words must not grow memory without bound.
_CACHE_LIMIT = 200_000
# Zipf frequency from which a word is everyday English (about once per 100,000 words).
COMMON_ZIPF = 4.0


def tokenize(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in TOKEN.finditer(text)]


def _shape(word: str) -> str:
    out: list[str] = []
    for ch in word[:12]:
        kind = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)


def _kind(word: str) -> str:
    first = word[0]
    if first == "@" and len(word) > 1:
        return "handle"
    if first == "#" and len(word) > 1:
        return "hashtag"
    if word.startswith(("http", "www.")) and len(word) > 4:
        return "url"
    if word.isdigit():
        return "number"
    if not first.isalnum():
        return "punct"
    return "word"


def _case(word: str) -> str:
    if word.islower():
        return "lower"
    if word.isupper():
        return "upper" if len(word) > 1 else "title"
    if word[0].isupper():
        return "title" if word[1:].islower() or not any(c.isalpha() for c in word[1:]) else "mixed"
    return "mixed"


def document_case(text: str) -> str:
    """ "lower" or "upper" when the writer ignores case, so a word's case says nothing; else "mixed"."""
    letters = [ch for ch in text[:2000] if ch.isalpha()]
    if len(letters) < 8:
        return "mixed"
    upper = sum(ch.isupper() for ch in letters) / len(letters)
    return "lower" if upper < 0.02 else "upper" if upper > 0.9 else "mixed"


def _gazetteer(lex: Lexicon, key: str) -> list[str]:
    """Word-list evidence, bucketed: how name-like (census share against word frequency)."""
    out = []
    share = lex.first_names.get(key)
    if share is not None:
        excess = lex.name_excess(key, share)
        out.append("fn<0" if excess < 0 else "fn<1.5" if excess < 1.5 else "fn<3" if excess < 3 else "fn+")
    share = lex.last_names.get(key)
    if share is not None:
        excess = lex.name_excess(key, share)
        out.append("ln<0" if excess < 0 else "ln<1.5" if excess < 1.5 else "ln<3" if excess < 3 else "ln+")
    if key in lex.regions:
        out.append("region")
    if key in lex.cities:
        out.append("city")
    if key in lex.place_heads:
        out.append("placehead")
    return out


def word_features(lex: Lexicon, word: str, doc_case: str) -> tuple[list[str], list[str], list[str]]:
    """Features of `word` as the token being labelled, as a next-door neighbour, and as a token
    two away. Each list is a subset of the one before (plus "end" for neighbours), which lets
    inference sum one weight table over the union (see `Model.weights`)."""
    kind = _kind(word)
    lower = word.casefold()
    key = lower[1:] if kind in ("handle", "hashtag") else lower
    if key.endswith(("'s", "\u2019s")):
        key = key[:-2]
    zipf = lex.zipf(key)
    case = _case(word) if kind in ("word", "handle", "hashtag") else kind
    gaz = _gazetteer(lex, key) if kind in ("word", "hashtag", "handle") else []
    far = ["w=" + lower, "kind=" + kind, "case=" + case, f"zipf={int(zipf)}"]
    shape = "shape=" + _shape(word)
    near = [*far, shape, *("g=" + g for g in gaz)]
    own = [
        *near,
        "bias",
        "dcase=" + doc_case + "|" + case,
        f"len={min(len(key), 8)}",
        "s3=" + key[-3:],
        "s2=" + key[-2:],
        "p3=" + key[:3],
        "p2=" + key[:2],
        *(f"gz={g}|{case}" for g in gaz),
        *(f"gd={g}|{doc_case}" for g in gaz),
        f"zc={int(zipf)}|{case}",
    ]
    if kind in ("handle", "hashtag"):
        own += ["k=" + key, "s4=" + key[-4:]]
    elif len(key) > 4:
        own.append("s4=" + key[-4:])
    if word in _SENTENCE_END:
        near.append("end")
    return own, near, far


def token_features(lex: Lexicon, word: str, offset: int, doc_case: str) -> list[str]:
    """The features of `word` seen from `offset` tokens away, as training names them."""
    own, near, far = word_features(lex, word, doc_case)
    chosen = own if offset == 0 else near if abs(offset) == 1 else far
    return [f"{offset}:{f}" for f in chosen]


EDGE = {offset: [f"{offset}:edge"] for offset in OFFSETS}


class Model:
    """The CRF's weights. A plain class: a dataclass costs milliseconds of `import sluice.pii`."""

    __slots__ = ("entity_bias", "labels", "start", "transitions", "weights")

    def __init__(
        self,
        *,
        labels: tuple[str, ...],
        transitions: tuple[tuple[float, ...], ...],
        start: tuple[float, ...],
        weights: dict[str, tuple[tuple[int, float], ...]],
        entity_bias: float,
    ) -> None:
        self.labels = labels
        self.transitions = transitions  # [from][to]
        self.start = start  # added to the first token's scores
        # Feature (without its offset) -> (slot, weight)...; slot = offset index * labels + label.
        # One table for all offsets: a word's five vectors come from one pass over its features.
        self.weights = weights
        # Added to every non-O label: trades precision for recall (F2 weighs recall 4x); set by
        # the training script from BTC dev.
        self.entity_bias = entity_bias


def load(raw: bytes) -> Model:
    import gzip  # here, not at the top: `import sluice.pii` stays cheap (the model loads in warm)
    import json

    data = json.loads(gzip.decompress(raw))
    weights = {
        feature: tuple((int(slot), float(weight)) for slot, weight in pairs)
        for feature, pairs in data["weights"].items()
    }
    return Model(
        labels=tuple(data["labels"]),
        transitions=tuple(tuple(row) for row in data["transitions"]),
        start=tuple(data["start"]),
        weights=weights,
        entity_bias=float(data["entity_bias"]),
    )


@cache
def model() -> Model:
    from importlib import resources

    return load(resources.files("sluice.pii").joinpath("data").joinpath(MODEL_FILE).read_bytes())


# One score vector per offset in OFFSETS. Tuples, not lists: tuples of floats drop out of the
# garbage collector's view, so a large cache does not slow every full collection.
_Vectors = tuple[tuple[float, ...], ...]


class Tagger:
    """Recognizer for PERSON and LOCATION: CRF labels, B/I runs become spans."""

    score = 0.8
    lone_word_score = 0.45

    def __init__(self, crf: Model | None = None, lex: Lexicon | None = None) -> None:
        self._crf = crf
        self._lex = lex
        self._vectors: dict[tuple[str, str], _Vectors] = {}
        self._edge: _Vectors | None = None

    def find(self, doc: Doc) -> Iterator[Span]:
        text = doc.text
        bounds = tokenize(text)
        if not bounds:
            return
        labels = (self._crf or model()).labels
        lex = self._lex or lexicon()
        cased = document_case(text) == "mixed"
        for run_first, run_last, label in _runs(self.label(text, bounds), labels):
            kind = _EMITTED.get(label)
            if kind is None:
                continue
            words = [text[s:e] for s, e in bounds[run_first : run_last + 1]]
            first, last = _trim(words, lex, kind, cased)
            if first <= last:
                first, last = run_first + first, run_first + last
                yield Span(
                    bounds[first][0],
                    bounds[last][1],
                    kind,
                    self._score(text, bounds, first, last, kind),
                )

    def _score(self, text: str, bounds: list[tuple[int, int]], first: int, last: int, kind: str) -> float:
        """`score`, or less than the default minimum for a lone everyday word ("Wisdom", "Hope")
        that the word lists do not know as a given name or a place: the tagger's most common
        mistake, and the lists know how common a word is."""
        if first == last:
            lex = self._lex or lexicon()
            key = text[bounds[first][0] : bounds[first][1]].casefold()
            listed = key in lex.first_names if kind == "PERSON" else key in lex.cities or key in lex.regions
            if not listed and lex.zipf(key) >= COMMON_ZIPF:
                return self.lone_word_score
        return self.score

    def label(self, text: str, bounds: list[tuple[int, int]]) -> list[int]:
        """The best label index for each token (Viterbi)."""
        crf = self._crf or model()
        lex = self._lex or lexicon()
        doc_case = document_case(text)
        size = len(crf.labels)
        vectors = self._vectors
        if len(vectors) > _CACHE_LIMIT:
            vectors.clear()
        if self._edge is None:
            self._edge = _vectors(crf, ["edge"], size, 0.0)
        edge = self._edge
        padded: list[_Vectors] = [edge, edge]
        for s, e in bounds:
            word = text[s:e]
            vec = vectors.get((word, doc_case))
            if vec is None:
                own, near, _ = word_features(lex, word, doc_case)
                # `own` holds every feature of `near` but "end": each is counted once.
                features = [*own, "end"] if near[-1] == "end" else own
                vec = _vectors(crf, features, size, crf.entity_bias)
                vectors[(word, doc_case)] = vec
            padded.append(vec)
        padded += [edge, edge]
        emissions = [
            [a + b + c + d + e for a, b, c, d, e in zip(v0[0], v1[1], v2[2], v3[3], v4[4], strict=True)]
            for v0, v1, v2, v3, v4 in zip(
                padded, padded[1:], padded[2:], padded[3:], padded[4:], strict=False
            )
        ]
        return _viterbi(emissions, crf.transitions, crf.start)


def _vectors(crf: Model, features: list[str], size: int, bias: float) -> _Vectors:
    flat = [0.0] * (size * len(OFFSETS))
    weights = crf.weights
    for feature in features:
        for slot, weight in weights.get(feature, ()):
            flat[slot] += weight
    own = OFFSETS.index(0) * size
    for label in range(1, size):  # the bias is counted once, on the token's own vector
        flat[own + label] += bias
    return tuple(tuple(flat[k * size : (k + 1) * size]) for k in range(len(OFFSETS)))


def _viterbi(
    emissions: list[list[float]], transitions: tuple[tuple[float, ...], ...], start: tuple[float, ...]
) -> list[int]:
    """Best label path. The forward pass keeps each token's best scores and no back-pointers
    (`max(map(add, ...))` runs in C); the way back recomputes one argmax per token, for the
    state on the path only. Ties go to the lower label index, as a full table would."""
    columns = [[row[k] for row in transitions] for k in range(len(start))]
    best = [a + b for a, b in zip(start, emissions[0], strict=True)]
    history: list[list[float]] = []
    for scores in emissions[1:]:
        history.append(best)
        best = [max(map(add, best, column)) + e for column, e in zip(columns, scores, strict=True)]
    state = best.index(max(best))
    path = [state]
    for previous in reversed(history):
        values = list(map(add, previous, columns[state]))
        state = values.index(max(values))
        path.append(state)
    path.reverse()
    return path


def _trim(words: list[str], lex: Lexicon, kind: str, cased: bool) -> tuple[int, int]:
    """The part of a run worth a span, as (first, last) indexes into `words`.

    The entity bias (recall) lets runs spill over their edges. Punctuation never begins or ends
    a name ("Quartermaine, I" is not one span). In text whose writer uses case, neither does an
    everyday lower-case word the lists do not know ("European bank card", "the store earlier");
    in all-lower-case text such a word may be the name itself, so it stays.
    """

    def edge(word: str) -> bool:
        if not word[0].isalnum():
            return word[0] not in "@#"
        if not cased or not word.islower():
            return False
        listed = word in lex.first_names or word in lex.last_names if kind == "PERSON" else word in lex.cities
        return not listed and lex.zipf(word) >= COMMON_ZIPF

    first, last = 0, len(words) - 1
    while first <= last and edge(words[last]):
        last -= 1
    while first <= last and edge(words[first]):
        first += 1
    return first, last


def _runs(path: list[int], labels: tuple[str, ...]) -> Iterator[tuple[int, int, str]]:
    """(first token, last token, type) of each entity: B-X then I-X...; a stray I-X opens one."""
    open_at, open_type = -1, ""
    for i, index in enumerate(path):
        tag = labels[index]
        if tag.startswith("I-") and open_at >= 0 and tag[2:] == open_type:
            continue
        if open_at >= 0:
            yield open_at, i - 1, open_type
            open_at = -1
        if tag != "O":
            open_at, open_type = i, tag[2:]
    if open_at >= 0:
        yield open_at, len(path) - 1, open_type
