"""The one way tests load the shared sample events in `events/`."""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"


@cache
def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    """A fresh copy of `events/<name>`, with top-level keys replaced by `overrides`."""
    event = copy.deepcopy(_load(name))
    event.update(overrides)
    return event


def api_event(
    name: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    raw_bytes: bytes | None = None,
    headers: dict[str, str] | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """An API Gateway sample event with its body, headers or calling tenant changed.

    `raw_bytes` arrive as the deployed API hands them over (every media type binary):
    base64-encoded, with isBase64Encoded set.
    """
    event = load_event(f"api/{name}.json")
    if raw_bytes is not None:
        event["body"] = base64.b64encode(raw_bytes).decode("ascii")
        event["isBase64Encoded"] = True
    elif raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    if headers:
        event["headers"] = {**event["headers"], **headers}
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if tenant is not None:
        event["requestContext"]["identity"]["apiKeyId"] = tenant
    return event
