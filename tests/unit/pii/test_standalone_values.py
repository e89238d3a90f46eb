"""Where a detected value recurs, it is found again only where it stands alone (`standalone`).

Survivors of `make mutation` (issue 19): every word-edge guard of the recurrence pattern could be
removed or inverted without a failing test.
"""

from __future__ import annotations

import re

import pytest

from sluice.pii.redaction import standalone


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Smith", "Smith agreed"),
        ("Smith", "and Smith."),
        ("Smith", "(Smith)"),
        ("4929", "PIN 4929, thanks"),
        ("j.doe@example.com", "x j.doe@example.com y"),
    ],
)
def test_a_value_standing_alone_is_found(value: str, text: str) -> None:
    # Given a value and a text where it stands alone, Then its pattern finds it there
    assert re.search(standalone(value), text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Smith", "Smithson Ltd"),
        ("Smith", "Goldsmith said"),
        ("4929", "card 49291"),
        ("4929", "card 14929"),
        ("Smith4929", "Smith49291"),
        ("4929Smith", "14929Smith"),
    ],
)
def test_a_value_inside_a_longer_word_or_number_is_not_found(value: str, text: str) -> None:
    # Given a value and a text where it is only part of a longer word or number
    # Then its pattern does not find it there (the longer word is not personal data by itself)
    assert not re.search(standalone(value), text)
