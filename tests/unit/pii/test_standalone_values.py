"""Where a detected value recurs, it is found again only where it stands alone (`standalone`).

Survivors of `make mutation` (issue 19): every word-edge guard of the recurrence pattern could be
removed or inverted without a failing test.
"""

from __future__ import annotations

import re

import pytest

from sluice.pii.redaction import _propagate, standalone
from sluice.pii.spans import Span


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Smith", "Smith agreed"),
        ("Smith", "and Smith."),
        ("Smith", "(Smith)"),
        ("4929", "PIN 4929, thanks"),
        ("j.doe@example.com", "x j.doe@example.com y"),
        # An edge that is neither a letter nor a digit has no guard: such a value is found even
        # where it is glued to a word or a number (the guard is read from the edge character).
        ("+44 20 7946 0958", "call 0+44 20 7946 0958"),
        ("+44 20 7946 0958", "ref:XXXX+44 20 7946 0958"),
        ("(020) 7946-", "ring (020) 7946-XXXX"),
        ("(020) 7946-", "ring (020) 7946-1234"),
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


def test_a_value_of_three_characters_or_more_is_found_again_and_a_shorter_one_is_not() -> None:
    # Given two names found once each, "Ann" (three characters) and "Bo" (two), recurring later
    text = "Ann met Bo. Ann and Bo left"
    found = [Span(0, 3, "PERSON", 0.9), Span(8, 10, "PERSON", 0.9)]

    # When their recurrences are added, Then Ann's is and Bo's is not: two characters recur by
    # chance too often to be taken for the same person
    assert _propagate(text, found) == [*found[:2], Span(12, 15, "PERSON", 0.9)]


def test_a_value_found_once_does_not_stop_the_next_ones_recurrences_being_found() -> None:
    # Given a name that occurs once, then one that recurs
    text = "Jo Bloggs met Ann. Ann left."
    found = [Span(0, 9, "PERSON", 0.9), Span(14, 17, "PERSON", 0.9)]

    # Then the second one's recurrence is added all the same
    assert _propagate(text, found) == [*found, Span(19, 22, "PERSON", 0.9)]


def test_spans_that_touch_do_not_overlap() -> None:
    # A recurrence right after a detected value ("<PERSON><EMAIL>") is a span of its own
    assert not Span(0, 3, "PERSON", 0.9).overlaps(Span(3, 5, "PERSON", 0.9))
    assert not Span(3, 5, "PERSON", 0.9).overlaps(Span(0, 3, "PERSON", 0.9))
    assert Span(0, 3, "PERSON", 0.9).overlaps(Span(2, 5, "PERSON", 0.9))
