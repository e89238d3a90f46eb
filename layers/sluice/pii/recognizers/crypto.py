"""CRYPTO: Bitcoin addresses (Base58Check and Bech32/Bech32m, checksums verified) and Ethereum."""

from __future__ import annotations

import hashlib
import re

from sluice.pii.recognizers.base import PatternRecognizer, words

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {ch: i for i, ch in enumerate(_B58)}
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {ch: i for i, ch in enumerate(_BECH32)}


def valid_base58check(value: str) -> bool:
    number = 0
    for ch in value:
        number = number * 58 + _B58_INDEX[ch]
    pad = len(value) - len(value.lstrip("1"))
    raw = b"\0" * pad + number.to_bytes((number.bit_length() + 7) // 8, "big")
    if len(raw) != 25:
        return False
    payload, checksum = raw[:-4], raw[-4:]
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == checksum


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= generator[i] if (top >> i) & 1 else 0
    return checksum


def valid_bech32(value: str) -> bool:
    if value != value.lower() and value != value.upper():
        return False
    hrp, _, data = value.lower().rpartition("1")
    if not hrp or len(data) < 6 or any(ch not in _BECH32_INDEX for ch in data):
        return False
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    # 1: Bech32 (SegWit v0), 0x2BC830A3: Bech32m (Taproot).
    return _polymod(expanded + [_BECH32_INDEX[c] for c in data]) in (1, 0x2BC830A3)


BITCOIN = PatternRecognizer(
    "CRYPTO",
    re.compile(r"(?<![\w])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![\w])"),
    score=1.0,
    validate=valid_base58check,
)
BITCOIN_BECH32 = PatternRecognizer(
    "CRYPTO",
    re.compile(r"(?<![\w])(?:bc1|tb1|BC1|TB1)[02-9ac-hj-np-zAC-HJ-NP-Z]{8,87}(?![\w])"),
    score=1.0,
    validate=valid_bech32,
)
ETHEREUM = PatternRecognizer(
    "CRYPTO",
    re.compile(r"(?<![\w])0x[0-9a-fA-F]{40}(?![\w])"),
    score=0.7,  # also the shape of other 160-bit hashes
    context=words("eth ether ethereum wallet address send crypto metamask"),
    context_score=0.95,
)
RECOGNIZERS = (BITCOIN, BITCOIN_BECH32, ETHEREUM)
