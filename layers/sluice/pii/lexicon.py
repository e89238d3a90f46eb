"""The word lists behind PERSON and LOCATION, loaded from the package on first use, then cached.

Loading takes a few hundred milliseconds and ~40 MB, so it happens at the first `detect` (or an
explicit `warm()` during a Lambda's init phase), never at `import sluice.pii`.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from functools import cache

# Shares are in thousandths of a percent of the US population; James, the most common first name
# in the census list, holds 3,318 of them and has a word frequency (Zipf) of about 5.1.
_TOP_SHARE = 3318
_TOP_ZIPF = 5.1


def _read(name: str) -> list[str]:
    from importlib import resources  # ~10 ms to import: paid on first detect, not at import

    data = resources.files("sluice.pii").joinpath("data").joinpath(name).read_bytes()
    return gzip.decompress(data).decode("utf-8").splitlines()


def _weighted(name: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in _read(name):
        key, _, value = line.partition("\t")
        out[key] = int(value or 0)
    return out


@dataclass(frozen=True, slots=True)
class Lexicon:
    first_names: dict[str, int]  # name -> census share (0 when only in non-US lists)
    last_names: dict[str, int]
    regions: frozenset[str]  # countries, US states, continents
    cities: frozenset[str]
    # First word of every multi-word place -> most words any of its places has.
    place_heads: dict[str, int]
    zipf10: dict[str, int]  # common English word -> Zipf frequency x 10

    def zipf(self, key: str) -> float:
        return self.zipf10.get(key, 0) / 10

    def name_excess(self, key: str, share: int) -> float:
        """How much more often `key` appears in text than its popularity as a name explains.

        Near 0 for words that are only names ("martin"), large for words that are also everyday
        words ("will", "bill"): a casing-free signal for lower-case chat text.
        """
        expected = _TOP_ZIPF + math.log10(max(share, 1) / _TOP_SHARE)
        return self.zipf(key) - expected


@cache
def lexicon() -> Lexicon:
    regions = frozenset(_read("regions.txt.gz"))
    cities = frozenset(_read("cities.txt.gz"))
    heads: dict[str, int] = {}
    for place in (p for p in regions | cities if " " in p):
        parts = place.split(" ")
        heads[parts[0]] = max(heads.get(parts[0], 0), len(parts))
    return Lexicon(
        first_names=_weighted("first_names.tsv.gz"),
        last_names=_weighted("last_names.tsv.gz"),
        regions=regions,
        cities=cities,
        place_heads=heads,
        zipf10=_weighted("common_words.tsv.gz"),
    )
