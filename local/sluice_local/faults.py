"""Fault injection on the local platform: `python -m sluice_local.platform --inject-faults LOG`.

The fault suite of tests/functional/faults.py runs the handlers' wiring on in-process moto with
a scripted endpoint; this module brings the same faults to the real local platform (moto
servers, the local endpoints with the real model, the pollers, a restart), so that its accounting
also holds for what `make run` runs. Never part of a deployment: only the local platform loads it.

A request meets a fault through the marker its text starts with (`throttled: my card ...`):

  throttled      the endpoint answers 429 ThrottlingException to the first 4 calls carrying one
  timeout        the endpoint answers the first call carrying one only after the route's budget
  dependency     the model container fails every call carrying it (424 ModelError, status 500)
  rejected       the model rejects it (424 ModelError, status 400)
  crash          the worker is killed after the model answered, before the job is recorded (once)
  ddb-throttled  DynamoDB throttles the first 2 writes to the job's record
  lost           (asynchronous endpoints) SageMaker's notification is never sent

and, whatever the texts, every SQS batch of a route queue reaches the worker twice, the second
time in reverse order (SQS delivers at least once, in no promised order).

Each fault that fires, and each call that reaches an endpoint, is a JSON line in the fault log
(texts only as a hash), which both the platform and its endpoint process append to; an
accounting reads it to prove the faults happened and no input was invoked more often than the
retry policy allows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluice_local.runtime import InvocationKilled

FAULTS = ("throttled", "timeout", "dependency", "rejected", "crash", "ddb-throttled", "lost")
THROTTLED_CALLS = 4
THROTTLED_WRITES = 2


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def marker(text: str) -> str | None:
    head = text.split(":", 1)[0].strip()
    return head if head in FAULTS else None


def texts_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value: the texts, whatever the route's wire format."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts_in(item)


class FaultLog:
    """Appends one JSON line per record; safe across threads and, with O_APPEND, processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, **record: Any) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class EndpointFaults:
    """ASGI middleware in front of the local endpoints: throttling, timeouts and model errors for
    marked texts on InvokeEndpoint; every call counted in the log."""

    def __init__(self, app: ASGIApp, log: FaultLog, *, timeout_seconds: float) -> None:
        self._app = app
        self._log = log
        self._timeout = timeout_seconds
        # Like the functional suite's, throttling and timeouts are the endpoint's, not an input's:
        # the first calls carrying such a text meet them, whichever text it is. What already
        # fired is carried over a restart of the platform from the log.
        self._fired = Counter(r["fault"] for r in FaultLog.read(log.path) if r["kind"] == "fired")
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "POST" or not path.endswith("/invocations"):
            await self._app(scope, receive, send)
            return
        body = await _read_all(receive)
        try:
            texts = list(texts_in(json.loads(body)))
        except ValueError:
            texts = []
        with self._lock:
            for text in texts:
                self._log.write(kind="call", text=text_hash(text))
            answer = self._answer(_marked(texts))
        if isinstance(answer, JSONResponse):
            await answer(scope, _replay(body), send)
            return
        if answer:
            await asyncio.sleep(answer)
        await self._app(scope, _replay(body), send)

    def _answer(self, faults: set[str]) -> JSONResponse | float:
        """An error to answer instead of the model, seconds to wait before it, or 0."""
        if "dependency" in faults:
            return self._fire("dependency", _model_error(500, "the model failed"))
        if "rejected" in faults:
            return self._fire("rejected", _model_error(400, "the model rejected the input"))
        if "throttled" in faults and self._fired["throttled"] < THROTTLED_CALLS:
            throttled = JSONResponse(
                {"message": "Rate exceeded"},
                status_code=429,
                headers={"x-amzn-ErrorType": "ThrottlingException"},
            )
            return self._fire("throttled", throttled)
        if "timeout" in faults and self._fired["timeout"] < 1:
            return self._fire("timeout", self._timeout)
        return 0

    def _fire(self, fault: str, answer: JSONResponse | float) -> JSONResponse | float:
        self._fired[fault] += 1
        self._log.write(kind="fired", fault=fault)
        return answer


def _marked(texts: Iterable[str]) -> set[str]:
    return {fault for text in texts if (fault := marker(text)) is not None}


def _model_error(status: int, message: str) -> JSONResponse:
    # The shape SageMaker answers when the container does not answer 200 (sluice_local.endpoint).
    return JSONResponse(
        {"message": message, "OriginalStatusCode": status, "OriginalMessage": message},
        status_code=424,
        headers={"x-amzn-ErrorType": "ModelError"},
    )


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the request is over: wait for the disconnect that never comes
        raise AssertionError("unreachable")

    return receive


def drops_notification(log: FaultLog, request_body: bytes) -> bool:
    """True for an asynchronous request whose text is marked `lost`: its notification is dropped."""
    try:
        texts = list(texts_in(json.loads(request_body)))
    except ValueError:
        return False
    if "lost" not in _marked(texts):
        return False
    log.write(kind="fired", fault="lost")
    return True


class StoreFaults:
    """botocore hooks on the functions' DynamoDB client: throttled writes and a worker killed
    between the model's answer and the job's record. The job's fault is learnt from its queue
    message (the record holds no input), which the pollers show to `learn` before delivering."""

    def __init__(self, log: FaultLog) -> None:
        self._log = log
        self._fault_of_job: dict[str, str] = {}
        # What already fired, carried over a restart of the platform from the log.
        fired = [record for record in FaultLog.read(log.path) if record["kind"] == "fired"]
        self._writes: Counter[str] = Counter(r["job_id"] for r in fired if r["fault"] == "ddb-throttled")
        self._crashed = {r["job_id"] for r in fired if r["fault"] == "crash"}
        self._lock = threading.Lock()

    def install(self, events: Any) -> None:
        events.register("before-parameter-build.dynamodb.UpdateItem", self._before_update)

    def learn(self, messages: list[dict[str, Any]]) -> None:
        self._log.write(kind="delivery", messages=len(messages))
        for message in messages:
            try:
                body = json.loads(message["Body"])
                job_id = body["job_id"]
            except (ValueError, KeyError, TypeError):
                continue  # a poison message: no job
            faults = _marked(texts_in(body))
            if faults:
                with self._lock:
                    self._fault_of_job[job_id] = next(iter(faults))

    def _before_update(self, params: dict[str, Any], **_: Any) -> None:
        from botocore.exceptions import ClientError

        job_id = params.get("Key", {}).get("id", {}).get("S", "")
        with self._lock:
            fault = self._fault_of_job.get(job_id)
            if fault == "ddb-throttled":
                self._writes[job_id] += 1
                if self._writes[job_id] <= THROTTLED_WRITES:
                    self._log.write(kind="fired", fault="ddb-throttled", job_id=job_id)
                    error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}
                    raise ClientError(
                        {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "UpdateItem"
                    )
            values = params.get("ExpressionAttributeValues", {})
            succeeding = values.get(":status", {}).get("S") == "succeeded"
            if fault == "crash" and succeeding and job_id not in self._crashed:
                self._crashed.add(job_id)
                self._log.write(kind="fired", fault="crash", job_id=job_id)
                raise InvocationKilled(job_id)
