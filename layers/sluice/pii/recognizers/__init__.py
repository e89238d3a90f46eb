"""Pattern recognizers, one module per family. `ALL` is the order `detect` runs them in."""

from __future__ import annotations

from sluice.pii.recognizers import (
    addresses,
    bank,
    cards,
    credentials,
    crypto,
    dates,
    documents,
    iban,
    network,
    phone,
    ssn,
)
from sluice.pii.recognizers.base import Doc, PatternRecognizer, Recognizer

ALL: tuple[Recognizer, ...] = (
    *network.RECOGNIZERS,
    *credentials.RECOGNIZERS,
    *cards.RECOGNIZERS,
    *iban.RECOGNIZERS,
    *ssn.RECOGNIZERS,
    *crypto.RECOGNIZERS,
    *bank.RECOGNIZERS,
    *documents.RECOGNIZERS,
    *dates.RECOGNIZERS,
    *phone.RECOGNIZERS,
    *addresses.RECOGNIZERS,
)

__all__ = ["ALL", "Doc", "PatternRecognizer", "Recognizer"]
