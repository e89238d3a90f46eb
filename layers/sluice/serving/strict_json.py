"""The JSON reader for request bodies: RFC 8259 JSON that the rest of the platform can carry.

Python's `json.loads` accepts what a client controls and the platform cannot keep: NaN and
Infinity (not JSON; DynamoDB and most clients refuse them), integers past Python's 4,300-digit
conversion limit (a ValueError), nesting deep enough to exhaust the interpreter's recursion
(a RecursionError), unpaired surrogates (`"\\ud800"`, which no UTF-8 writer can encode later),
and duplicate keys (silently the last wins). Each is refused here with a stable code, before any
of it reaches pydantic, the redactor, a queue or a table; messages never carry the body's values.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sluice.errors import InvalidRequest, MalformedJson, SluiceError

MAX_DEPTH = 32
# CPython's limit for int(str) (sys.get_int_max_str_digits): past it, conversion raises.
MAX_INTEGER_DIGITS = 4300
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class UnacceptableJson(json.JSONDecodeError):
    """A body that parses as Python's JSON but not as the platform's; `error` is the answer."""

    def __init__(self, error: SluiceError, document: str) -> None:
        super().__init__(error.message, document, 0)
        self.error = error


def loads(document: str) -> Any:
    try:
        value = json.loads(
            document,
            parse_constant=_no_constants,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise UnacceptableJson(_too_deep(), document) from None
    except _Refused as refused:
        raise UnacceptableJson(refused.error, document) from None
    # Cheap guards first: only a body with enough brackets can be too deep, and only one with an
    # escaped (or raw) surrogate can hold an unpaired one.
    if document.count("{") + document.count("[") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise UnacceptableJson(_too_deep(), document)
    if _ESCAPED_SURROGATE.search(document) or not _encodes(document):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise UnacceptableJson(
                InvalidRequest("The body contains an unpaired UTF-16 surrogate escape"), document
            ) from None
    return value


class _Refused(ValueError):
    def __init__(self, error: SluiceError) -> None:
        super().__init__(error.message)
        self.error = error


def _no_constants(name: str) -> Any:
    raise _Refused(MalformedJson(f"{name} is not JSON: numbers must be finite"))


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Refused(InvalidRequest(f"A number in the body has more than {MAX_INTEGER_DIGITS} digits"))
    return int(digits)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _Refused(InvalidRequest("An object in the body repeats a key"))
    return value


def _too_deep() -> SluiceError:
    return InvalidRequest(f"The body nests deeper than {MAX_DEPTH} levels")


def _depth(value: Any) -> int:
    """Nesting depth without recursion (the value may be deep enough to exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
