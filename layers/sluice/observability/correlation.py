"""The correlation id: one id per request, from the API's answer to the worker's last log line.

A client may send its own (`X-Correlation-Id`) to find its request in our logs; an id that is
not well formed is replaced rather than refused (it is a convenience, not an input the request
depends on) and never echoed, since an arbitrary header could carry anything. The id travels in
the job record and the queue message (`correlation_id`), so the worker, `async_result` and the
`InferenceCompleted` event carry the same one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sluice.observability import logger

CORRELATION_HEADER = "X-Correlation-Id"
# Letters, digits and the separators UUIDs, ULIDs and trace ids use; long enough for a
# W3C traceparent, short enough to index. Nothing else: it ends up in every log line.
WELL_FORMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def from_headers(headers: Mapping[str, str] | None, *, fallback: str | None = None) -> str:
    """The client's id when well formed, else `fallback` (API Gateway's request id), else a new one."""
    for name, value in (headers or {}).items():
        if (
            name.lower() == CORRELATION_HEADER.lower()
            and isinstance(value, str)
            and WELL_FORMED.fullmatch(value)
        ):
            return value
    if fallback and WELL_FORMED.fullmatch(fallback):
        return fallback
    return new_correlation_id()


def set_correlation_id(correlation_id: str | None) -> None:
    """Every log line this thread writes from now on carries `correlation_id`.

    A thread-local key, not the Logger's shared one: in Lambda one request runs at a time, but
    the local platform runs several function instances on threads of one process, and a shared
    key would lend one request's id to another's lines.
    """
    logger.thread_safe_append_keys(correlation_id=correlation_id)


def current_correlation_id() -> str | None:
    """The id this thread's log lines carry."""
    current = logger.thread_safe_get_current_keys().get("correlation_id")
    return str(current) if current else logger.get_correlation_id()


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    """Every log line written inside carries `correlation_id` (the one before is restored after).

    The worker serves jobs of many requests in one invocation: each job's lines are written
    inside its own scope, so each carries its own request's id.
    """
    previous = logger.thread_safe_get_current_keys().get("correlation_id")
    set_correlation_id(correlation_id)
    try:
        yield
    finally:
        set_correlation_id(previous)
