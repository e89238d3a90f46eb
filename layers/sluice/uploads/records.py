"""Records of an uploaded file: JSONL or CSV lines parsed into the API's input, validated.

A JSONL line is `{"id": optional caller id, "input": {...}}`, the same input as
`POST /v1/inferences`; a CSV file's header names the input fields (an `id` column is the
caller's record id). Every error names a line and a code, never the content.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sluice.errors import (
    CSV_MISSING_COLUMNS,
    UNSUPPORTED_FORMAT,
    WRONG_FORMAT,
    FileRejected,
    InvalidRecordId,
    InvalidRequest,
    InvalidUtf8,
    MalformedJson,
)

ID_COLUMN = "id"
# Caller ids travel into results and logs' neighbourhood: keep them to opaque tokens.
_RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_CSV_SUFFIXES = (".csv",)


class FileFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


def format_of(key: str) -> FileFormat:
    """The format comes from the key's suffix (a trailing `.gz` aside; gzip is sniffed)."""
    name = key.lower().removesuffix(".gz")
    if name.endswith(_JSONL_SUFFIXES):
        return FileFormat.JSONL
    if name.endswith(_CSV_SUFFIXES):
        return FileFormat.CSV
    raise FileRejected(
        UNSUPPORTED_FORMAT, "the file name must end in .jsonl, .ndjson or .csv (optionally .gz)"
    )


@dataclass(frozen=True)
class ParsedRecord:
    record_id: str | None
    input: dict[str, Any]


def decode(data: bytes, *, first: bool) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUtf8("the line is not valid UTF-8") from None
    return text.removeprefix("\ufeff") if first else text


def parse_jsonl(text: str) -> ParsedRecord:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise MalformedJson("the line is not a JSON value") from None
    if not isinstance(value, dict):
        raise InvalidRequest("the line must be a JSON object with an `input` object")
    unknown = set(value) - {"id", "input"}
    if unknown:
        raise InvalidRequest(f"unknown fields {sorted(unknown)}; a line has `id` and `input`")
    record_input = value.get("input")
    if not isinstance(record_input, dict):
        raise InvalidRequest("`input` must be an object")
    return ParsedRecord(_record_id(value.get("id")), record_input)


def csv_columns(header: str, required_fields: tuple[str, ...]) -> tuple[str, ...]:
    columns = tuple(name.strip() for name in _csv_row(header))
    if not columns or not all(_FIELD.match(name) for name in columns) or len(set(columns)) != len(columns):
        raise FileRejected(WRONG_FORMAT, "the CSV header must name distinct input fields")
    missing = [field for field in required_fields if field not in columns]
    if missing:
        raise FileRejected(CSV_MISSING_COLUMNS, f"the CSV header lacks the route's fields {missing}")
    return columns


def parse_csv(text: str, columns: tuple[str, ...]) -> ParsedRecord:
    values = _csv_row(text)
    if len(values) != len(columns):
        raise InvalidRequest(f"the row has {len(values)} fields; the header has {len(columns)}")
    row = dict(zip(columns, values, strict=True))
    record_id = row.pop(ID_COLUMN, None)
    return ParsedRecord(_record_id(record_id or None), dict(row))


def check_jsonl_shape(text: str) -> None:
    """The first line decides whether the file is JSONL at all: a CSV or a JSON array is not."""
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        raise FileRejected(WRONG_FORMAT, "the file is not JSON Lines: the first line is not an object")


def _csv_row(text: str) -> list[str]:
    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error:
        raise InvalidRequest(
            "the CSV row is malformed (multi-line quoted fields are not supported)"
        ) from None


def _record_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _RECORD_ID.match(value):
        raise InvalidRecordId("`id` must be up to 128 letters, digits or ._:/- characters")
    return value
