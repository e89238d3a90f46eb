"""A local stand-in for the Lambda runtime: loads the real handlers and feeds them SQS batches.

Pollers keep the deployed event source semantics: batches up to the route's batch size
within a one-second window, partial batch failures (failed items stay on the queue until
their visibility timeout ends), the whole batch retried when the handler raises, and the
queue's redrive policy moving a message to the DLQ after maxReceiveCount receives.

An invocation past its function's timeout is stopped at its next AWS call, so that, as in Lambda,
it does nothing more: the caller sees `InvocationTimedOut` (a poller's whole batch comes back
after its visibility timeout; see `install_deadlines` for why at a call and not at once). Without
it, an invocation slowed by a loaded machine outlived its queue's visibility timeout and its batch
was delivered again while it still ran and wrote, which a deployed function, stopped at a sixth
of that timeout, never does (one blocked in a single read longer than the visibility timeout
still can be, until the read returns: its read timeout is the route's time budget).

On a stop, an invocation in flight runs to its end (`wind_down` tells it its time is up, as a
Lambda timeout approaching would: ingest checkpoints and queues a continuation), and messages a
poller received but did not hand to a handler go back to the queue at once, not after their
visibility timeout.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from sluice_local.lambda_events import sqs_event

ROOT = Path(__file__).resolve().parents[2]
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_module_ids = itertools.count()
# Handlers import one at a time: each sees only its own function's variables while it wires itself.
_init_lock = threading.Lock()


@dataclass(eq=False)  # compared and hashed by identity: the pool tracks the running ones
class LocalContext:
    """The parts of Lambda's context object that Powertools reads."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def time_is_up(self) -> None:
        self._deadline = min(self._deadline, time.monotonic())


def load_handler(function: str, environment: Mapping[str, str]) -> tuple[ModuleType, Handler]:
    """Import `functions/<function>/handler.py` as a fresh module: one per simulated instance.

    The handler wires itself at import from the environment, as in Lambda's init phase; the
    function's own variables are in `os.environ` only while it imports, so each function sees
    its own settings although they share one process. Two things stay process-wide here, unlike
    in Lambda: `sluice.observability`'s Logger and Metrics (built at the first import, so local
    logs carry the first function's service name), and `os.environ` for threads running while
    a handler imports (the platform imports every handler before any poller or the API starts).
    """
    path = ROOT / "functions" / function / "handler.py"
    spec = importlib.util.spec_from_file_location(f"sluice_function_{function}_{next(_module_ids)}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    with _init_lock:
        saved = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)
        try:
            spec.loader.exec_module(module)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    return module, module.lambda_handler


class InvocationKilled(BaseException):
    """Lambda ending an invocation (a crash, an out-of-memory kill): nothing in the function can
    catch it, and its whole batch comes back once the visibility timeout ends."""


class InvocationTimedOut(Exception):
    """The invocation ran past its function's timeout and was stopped."""


class _Stopped(BaseException):
    """Raised in a handler past its deadline: a BaseException, so `except Exception` in the
    function cannot swallow it, as nothing in a function survives Lambda stopping it."""


_invocation = threading.local()


def _stop_past_deadline(**_: Any) -> None:
    stop_at: float | None = getattr(_invocation, "stop_at", None)
    if stop_at is not None and time.monotonic() >= stop_at:
        raise _Stopped


def install_deadlines() -> None:
    """Stop an invocation past its deadline at its next AWS call (botocore's before-send, on the
    default session every handler's clients come from; a client copies the session's hooks when
    it is made, so this runs before any handler is loaded).

    Why there and not at once: raising into a running thread (PyThreadState_SetAsyncExc) can land
    between taking a lock and the `try` that releases it (logging's handler lock, say), and hang
    every other thread of the platform. An AWS call is where a handler's side effects happen, so
    stopping there keeps Lambda's promise that a stopped function does nothing more; a handler
    busy in Python, or blocked in a read, is stopped when it next calls AWS (its model's answer
    included: the read timeout is the route's time budget)."""
    import boto3

    events = boto3._get_default_session().events
    events.register_first("before-send", _stop_past_deadline, unique_id="sluice-local-deadline")


def call_with_timeout(call: Callable[[], dict[str, Any]], *, seconds: float) -> dict[str, Any]:
    """`call()`, stopped with InvocationTimedOut at its first AWS call after `seconds`."""
    outer = getattr(_invocation, "stop_at", None)
    _invocation.stop_at = time.monotonic() + seconds
    try:
        return call()
    except _Stopped:
        raise InvocationTimedOut(f"stopped after its {seconds:g} s timeout") from None
    finally:
        _invocation.stop_at = outer


class FunctionInstances:
    """A small pool of handler instances; like Lambda, each serves one event at a time."""

    def __init__(
        self, function: str, *, environment: Mapping[str, str], concurrency: int, timeout_seconds: int
    ) -> None:
        self.name = function
        self._function = function
        self._timeout = timeout_seconds
        install_deadlines()
        # Each instance is its own module with its own dependencies, as separate Lambda instances.
        self._free: list[Handler] = [load_handler(function, environment)[1] for _ in range(concurrency)]
        self._available = threading.Condition()
        self._running: set[LocalContext] = set()
        self._winding_down = False

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._available:
            self._available.wait_for(lambda: bool(self._free))
            handler = self._free.pop()
            # Its time starts when an instance takes it, as the stop's does.
            context = LocalContext(function_name=f"sluice-{self._function}", timeout_seconds=self._timeout)
            self._running.add(context)
            if self._winding_down:
                context.time_is_up()
        try:
            # The instance serves again after a stop, unlike a Lambda environment, which is
            # started afresh: re-importing a handler while other threads run would let them see
            # its variables (load_handler). A stop lands where an AWS call would fail, which a
            # handler must survive anyway, and handlers keep no state across calls but caches.
            return call_with_timeout(lambda: handler(event, context), seconds=self._timeout)
        finally:
            with self._available:
                self._running.discard(context)
                self._free.append(handler)
                self._available.notify()

    def wind_down(self) -> int:
        """The platform is stopping: every invocation, running or next, has no time left.
        Returns how many are running."""
        with self._available:
            self._winding_down = True
            for context in self._running:
                context.time_is_up()
            return len(self._running)


class QueuePoller(threading.Thread):
    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        function: FunctionInstances,
        batch_size: int,
        stop: threading.Event,
        batching_window_seconds: float = 1.0,
        on_batch: Callable[[int, int], None] | None = None,
        deliver_twice: bool = False,
        before_delivery: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        super().__init__(daemon=True, name=f"poller-{queue_url.rsplit('/', 1)[-1]}")
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._region = region
        self._function = function
        self._batch_size = batch_size
        self._stop_event = stop
        self._window = batching_window_seconds
        self._on_batch = on_batch
        # Fault injection (sluice_local.faults): SQS's at-least-once delivery, each batch twice,
        # the second time in reverse order; and a look at each batch before it is delivered.
        self._deliver_twice = deliver_twice
        self._before_delivery = before_delivery

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.poll_once()
            except Exception:  # the poller must outlive a flaky moment of the local moto server
                if not self._stop_event.is_set():
                    time.sleep(0.5)

    def poll_once(self) -> int:
        messages = self._receive_batch()
        if not messages:
            return 0
        if self._stop_event.is_set():
            self._give_back(messages)
            return 0
        failed = self._deliver(messages)
        if self._deliver_twice:
            # Either delivery deleting a message removes it, as SQS's receipt handles would.
            failed &= self._deliver(messages[::-1])
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        if self._on_batch:
            self._on_batch(len(done), len(failed))
        return len(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> set[str]:
        """One invocation with `messages`; the ids it failed (all of them when it raised or was
        killed: the whole batch comes back after its visibility timeout)."""
        if self._before_delivery:
            self._before_delivery(messages)
        event = sqs_event(messages, queue_arn=self._queue_arn, region=self._region)
        try:
            response = self._function.invoke(event)
            return {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except (Exception, InvocationKilled):
            return {message["MessageId"] for message in messages}

    def _give_back(self, messages: list[dict[str, Any]]) -> None:
        """Visible again now: the platform stops before a handler got them."""
        for start in range(0, len(messages), 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(messages[start : start + 10])
                ],
            )

    def _receive_batch(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(messages) < self._batch_size and not self._stop_event.is_set():
            wait = 1 if deadline is None else 0
            received = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(10, self._batch_size - len(messages)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if received:
                messages.extend(received)
                deadline = deadline or time.monotonic() + self._window
            if deadline is None and not received:
                break
            if deadline is not None and (not received or time.monotonic() >= deadline):
                break
        return messages


class Schedule(threading.Thread):
    """An EventBridge schedule rule's stand-in: invokes `function` every `every_seconds` with a
    Scheduled Event, until `stop` is set (a tick missed while it runs is made up by the next)."""

    def __init__(self, *, function: FunctionInstances, every_seconds: float, stop: threading.Event) -> None:
        super().__init__(daemon=True, name=f"schedule-{function.name}")
        self._function = function
        self._every = every_seconds
        self._halt = stop

    def run(self) -> None:
        while not self._halt.wait(self._every):
            event = {
                "source": "aws.events",
                "detail-type": "Scheduled Event",
                "id": uuid.uuid4().hex,
                "detail": {},
            }
            try:
                self._function.invoke(event)
            except Exception as error:
                print(f"[schedule] {self._function.name} failed: {type(error).__name__}", flush=True)
