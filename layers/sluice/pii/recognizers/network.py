"""EMAIL_ADDRESS, URL, IP_ADDRESS (v4 and v6, parsed) and MAC_ADDRESS."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sluice.pii.recognizers.base import Doc, PatternRecognizer, words
from sluice.pii.spans import Span

EMAIL_ADDRESS = PatternRecognizer(
    "EMAIL_ADDRESS",
    re.compile(r"(?<![\w.%+\-])[\w.%+\-]{1,64}@(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}(?![\w\-])"),
    score=1.0,
    needs_digit=False,
)

# Top-level domains common enough to flag a bare "example.com"; longer lists flag file names.
_TLDS = (
    "com|org|net|edu|gov|mil|int|io|co|ai|app|dev|info|biz|me|tv|us|uk|de|fr|es|it|nl|be|ch|at|se|"
    "no|dk|fi|is|ie|pl|cz|sk|hu|ro|bg|gr|pt|ru|ua|tr|il|in|cn|jp|kr|au|nz|ca|mx|br|ar|cl|za|ng|"
    "ke|eg|sg|hk|tw|my|ph|id|vn|th|si|hr|rs|ba|ee|lv|lt|lu|tn|ly|es|ws|cc|xyz|online|site|shop"
)
URL = PatternRecognizer(
    "URL",
    re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+(?<![.,;:!?)\]])", re.IGNORECASE),
    score=0.85,
    needs_digit=False,
)
BARE_DOMAIN = PatternRecognizer(
    "URL",
    re.compile(
        rf"(?<![@\w.\-/])(?:[a-z0-9](?:[a-z0-9\-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})\b"
        r"(?:/[^\s<>\"'`]*(?<![.,;:!?)\]]))?(?![\w@\-])",
        re.IGNORECASE,
    ),
    score=0.6,
    needs_digit=False,
)

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
# Hex digits, colons and dots (for v4-mapped tails); ipaddress decides. Needs two colons.
_IPV6 = re.compile(r"(?<![\w:.])[0-9a-f:][0-9a-f:.]{1,44}(?![\w:])", re.IGNORECASE)


def valid_ipv4(value: str) -> bool:
    octets = value.split(".")
    return len(octets) == 4 and all(
        o.isdigit() and int(o) <= 255 and (o == "0" or o[0] != "0") for o in octets
    )


def valid_ipv6(value: str) -> bool:
    import ipaddress  # only for texts that hold a v6-looking candidate

    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


class IpRecognizer:
    def find(self, doc: Doc) -> Iterator[Span]:
        if doc.has_digit and "." in doc.text:
            for match in _IPV4.finditer(doc.text):
                if valid_ipv4(match.group()):
                    yield Span(match.start(), match.end(), "IP_ADDRESS", 0.9)
        if doc.text.count(":") >= 2:
            for match in _IPV6.finditer(doc.text):
                value = match.group().rstrip(".")
                if value.count(":") >= 2 and valid_ipv6(value):
                    yield Span(match.start(), match.start() + len(value), "IP_ADDRESS", 0.9)


MAC_ADDRESS = PatternRecognizer(
    "MAC_ADDRESS",
    re.compile(
        r"(?<![\w:\-.])(?:[0-9a-f]{2}([:\-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})"
        r"(?![\w:\-.])",
        re.IGNORECASE,
    ),
    score=0.85,
    context=words("mac hardware ethernet wifi device bssid"),
    context_score=0.95,
    needs_digit=False,
)
RECOGNIZERS = (EMAIL_ADDRESS, URL, BARE_DOMAIN, IpRecognizer(), MAC_ADDRESS)
