"""LOCATION from address shapes: street lines, unit numbers, postal codes and address blocks.

Street lines come in two orders: "221B Baker Street" (number first, most of the English-speaking
world) and "Vesturgata 66" / "Grote Baan 477" (number last, most of Europe). Either is an address
when it ends in a street word or stands alone on its line or before a comma.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sluice.pii.recognizers.base import Doc, PatternRecognizer, words
from sluice.pii.spans import Span

_SUFFIX = (
    r"street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|square|sq"
    r"|terrace|ter|parkway|pkwy|highway|hwy|circle|cir|trail|trl|crescent|cres|close|grove|gardens"
    r"|row|walk|alley|plaza|pike|loop|mews|heights|hts|ridge|route|rte|expressway|freeway|broadway"
)
# Street words that many European languages glue onto the name ("Vesturgata", "Hauptstraße").
_EU_SUFFIX = (
    r"straße|strasse|str\.|gasse|weg|allee|platz|ring|gata|gatan|vägen|väg|vej|veien|vei|gade|laan"
    r"|straat|plein|kade|dreef|baan|utca|u\.|ulica|ul\.|út|tie|katu|rue|via|viale|calle|avenida|rua"
    r"|stræde|torg|torget|plass|sokak|caddesi|cesta|ulice|iela|gatve|tänav"
)
_WORD = r"[^\W\d_][\w'\u2019.\-]*"

STREET_NUMBER_FIRST = PatternRecognizer(
    "LOCATION",
    re.compile(
        rf"(?<![\w,.])\d{{1,6}}[A-Za-z]?(?:[-/]\d{{1,4}})?,?\s(?:{_WORD}\s){{0,4}}?(?:{_SUFFIX})\b\.?",
        re.IGNORECASE,
    ),
    score=0.8,
)
STREET_NUMBER_LAST = PatternRecognizer(
    "LOCATION",
    re.compile(
        rf"(?:\b{_WORD}\s){{0,3}}[^\W\d_]*(?:{_EU_SUFFIX})\s?\d{{1,5}}[A-Za-z]?(?:[-/]\d{{1,4}})?\b",
        re.IGNORECASE,
    ),
    score=0.75,
)
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-Ž][\w'\u2019.\-]*"
# Capitalised words and a number alone on a line or before a comma: "Joaquin Suarez 2906,".
STREET_ALONE = PatternRecognizer(
    "LOCATION",
    re.compile(
        rf"(?m)(?<![\w.])(?:\d{{1,5}}[A-Za-z]?\s{_CAP}(?:\s{_CAP}){{0,3}}|{_CAP}(?:\s{_CAP}){{0,3}}\s\d{{1,5}}[A-Za-z]?)"
        r"(?=\s*(?:,|\n|$))"
    ),
    score=0.6,
)
UNIT = PatternRecognizer(
    "LOCATION",
    re.compile(
        r"\b(?:suite|ste|apt|apartment|unit|flat|floor|fl|room|rm|bldg|building|p\.?\s?o\.?\s?box)\.?\s?#?\s?\d{1,5}[a-z]?\b",
        re.IGNORECASE,
    ),
    score=0.7,
)
_ZIP_CONTEXT = words("zip zipcode postal postcode post code address")
ZIP_CODE = PatternRecognizer(
    "LOCATION",
    re.compile(r"(?<![\w\-.])\d{5}(?:-\d{4})?(?![\w\-]|[.,]\d)"),
    score=0.0,
    context=_ZIP_CONTEXT,
    context_score=0.7,
)
# A postcode closing an address line: "North Korea 51358", "Springfield, IL 62704".
TRAILING_POSTCODE = PatternRecognizer(
    "LOCATION",
    re.compile(r"(?<=[^\W\d_])(?:,?\s)\d{4,6}(?:-\d{4})?(?=\s*(?:\n|$))"),
    score=0.6,
)
UK_CA_POSTCODE = PatternRecognizer(
    "LOCATION",
    re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d)\b"),
    score=0.65,
)


class AddressBlock:
    """Lines of an address block that hold only a town, region or country ("ANGERED", "Mali").

    Such a line is a location when the line above or below it already holds an address part.
    """

    _LINE = re.compile(
        r"[^\W\d_][\w'\u2019.\-]*(?:[ ,]+[^\W\d_][\w'\u2019.\-]*){0,3}(?:[ ,]+[\dA-Z][\dA-Z \-]{2,9})?"
    )

    def extend(self, doc: Doc, spans: list[Span]) -> Iterator[Span]:
        if "\n" not in doc.text or not spans:
            return
        starts: list[int] = []
        offset = 0
        for line in doc.text.split("\n"):
            starts.append(offset)
            offset += len(line) + 1
        starts.append(offset)
        located = {self._line_of(starts, s.start) for s in spans if s.entity_type == "LOCATION"}
        if not located:
            return
        # Grow the block line by line, downwards then upwards, from the lines already located.
        order = list(range(len(starts) - 1))
        for numbers, step in ((order, -1), (order[::-1], 1)):
            for number in numbers:
                if number in located or number + step not in located:
                    continue
                line = doc.text[starts[number] : starts[number + 1] - 1]
                stripped = line.strip(" \t>?*-\u2022")
                if stripped and self._LINE.fullmatch(stripped):
                    located.add(number)
                    start = starts[number] + line.index(stripped)
                    yield Span(start, start + len(stripped), "LOCATION", 0.6)

    @staticmethod
    def _line_of(starts: list[int], offset: int) -> int:
        low, high = 0, len(starts) - 1
        while low < high - 1:
            mid = (low + high) // 2
            if starts[mid] <= offset:
                low = mid
            else:
                high = mid
        return low


RECOGNIZERS = (
    STREET_NUMBER_FIRST,
    STREET_NUMBER_LAST,
    STREET_ALONE,
    UNIT,
    ZIP_CODE,
    TRAILING_POSTCODE,
    UK_CA_POSTCODE,
)
