"""`detect(text)`: every recognizer over the folded text, overlaps resolved, offsets mapped back.

Fails closed: any internal error, or running past the time budget, raises `PiiDetectionError`
so the caller rejects the request instead of passing the text on unredacted.
"""

from __future__ import annotations

import gc
import time

from sluice.pii.errors import PiiDetectionError, PiiDetectionTimeout
from sluice.pii.lexicon import lexicon
from sluice.pii.names import PeopleAndPlaces
from sluice.pii.normalize import fold
from sluice.pii.recognizers import ALL, Doc, Recognizer
from sluice.pii.recognizers.addresses import AddressBlock
from sluice.pii.spans import Span, overlaps_any, resolve
from sluice.pii.tagger import Tagger, model

DEFAULT_MIN_SCORE = 0.5
DEFAULT_TIME_BUDGET_MS = 250.0

# CPU throughput of `detect` on long mixed text (synthetic records, tweets and chat joined into
# 256 KB), measured by `make pii-eval` ("long texts" in bench/results/pii.md) on the development
# machine, rounded down. Time is linear in the text, so a route's budget follows from its input
# limit; HEADROOM covers a slower Lambda CPU and text denser in names than the benchmark's.
MEASURED_BYTES_PER_S = 90 * 1024
BUDGET_HEADROOM = 2.0
BUDGET_FLOOR_MS = DEFAULT_TIME_BUDGET_MS


def time_budget_for(max_input_bytes: int) -> float:
    """CPU milliseconds within which any input of up to `max_input_bytes` can be redacted."""
    return BUDGET_FLOOR_MS + BUDGET_HEADROOM * 1000 * max_input_bytes / MEASURED_BYTES_PER_S


_FROZEN = False
_PEOPLE_AND_PLACES = PeopleAndPlaces()
_TAGGER = Tagger()
# PERSON and LOCATION: the word lists and the learned tagger both run; where they overlap, the
# higher score (then the longer span) wins in `resolve`. Together they recall more than either
# (bench/results/pii.md), and the lists keep what the tagger was never shown (titles, cues).
NAMES_AND_PLACES: tuple[Recognizer, ...] = (_PEOPLE_AND_PLACES, _TAGGER)
_ADDRESS_BLOCK = AddressBlock()


def detect(
    text: str,
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    entities: frozenset[str] | None = None,
    time_budget_ms: float | None = DEFAULT_TIME_BUDGET_MS,
) -> list[Span]:
    """Spans of personal data in `text`, disjoint and sorted, with offsets into `text` itself."""
    try:
        warm()  # a one-off cost per process, not charged to the first request's budget
        # The budget is CPU time spent detecting: it stops a pathological input, while a busy
        # neighbour (another process, a GC pause elsewhere) cannot fail an ordinary request.
        deadline = None if time_budget_ms is None else time.thread_time() + time_budget_ms / 1000
        return _detect(text, min_score, entities, deadline)
    except PiiDetectionError:
        raise
    except Exception as error:  # fail closed: whatever broke, the text is not let through
        raise PiiDetectionError(f"PII detection failed: {type(error).__name__}") from None


def warm() -> None:
    """Loads the word lists and the tagger's weights now (in a Lambda's init phase), not on the
    first request's clock."""
    global _FROZEN
    lexicon()
    model()
    if not _FROZEN:
        # The lists and weights are about a million objects that live as long as the process;
        # without this every full collection scans them again, a 50-100 ms pause in the middle of
        # some short request. Frozen objects are skipped (still freed normally at exit).
        gc.freeze()
        _FROZEN = True


def _detect(
    text: str, min_score: float, entities: frozenset[str] | None, deadline: float | None
) -> list[Span]:
    if not text:
        return []
    folded = fold(text)
    doc = Doc(folded.text)
    found: list[Span] = []
    for recognizer in (*ALL, *NAMES_AND_PLACES):
        found.extend(recognizer.find(doc))
        if deadline is not None and time.thread_time() > deadline:
            raise PiiDetectionTimeout("PII detection exceeded its time budget")
    found.extend(_ADDRESS_BLOCK.extend(doc, [s for s in found if s.score >= min_score]))
    protected = doc.protected
    kept = [
        s
        for s in found
        if s.score >= min_score
        and (entities is None or s.entity_type in entities)
        and not overlaps_any(s.start, s.end, protected)
    ]
    spans: list[Span] = []
    for span in resolve(kept, folded.text):
        start, end = folded.to_original(span.start, span.end)
        # Spans disjoint in the folded text can share one original character that folds to
        # several ("1/4" from U+00BC): the earlier span keeps it, so offsets stay disjoint.
        if spans and start < spans[-1].end:
            start = spans[-1].end
        if start < end:
            spans.append(Span(start, end, span.entity_type, round(span.score, 2)))
    return spans
