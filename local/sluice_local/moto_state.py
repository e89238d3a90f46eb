"""The local AWS's durable state: moto's backends snapshotted to a file and restored at start.

moto keeps every table, queue, bucket and parameter in Python objects. This module pickles
those objects (each backend moto created, whole: items, messages with their receive counts and
visibility, object bodies, parameter versions) and loads them back before the server answers
its first call.

- On a clean stop the server stops answering, then writes a last snapshot: nothing is lost.
- While it runs, a snapshot is taken every `interval_s` seconds if anything changed. The
  server is paused only while a child process is forked (milliseconds); the child writes the
  copy-on-write image of the backends, so large state does not stall the platform. After a hard
  kill of the server, the changes since the last finished snapshot are lost.
- Files are written to a temporary name, fsynced and renamed: a snapshot is whole or absent.

`RequestGate` is what makes a snapshot consistent: every call holds it shared, a snapshot holds
it exclusively, and a long-polling ReceiveMessage lets go of it while it waits.
"""

from __future__ import annotations

import copyreg
import io
import json
import logging
import os
import pickle
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger("sluice_local.moto_state")
FORMAT = "sluice-moto-state/1"
CALLS_PATH = "/_sluice/calls"
# Calls that change nothing; any other call marks the state as changed (ReceiveMessage only
# when it hands out a message: it counts the receive and hides the message).
_READ_ONLY = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListQueues",
        "GetParameter",
        "GetParameters",
        "GetParametersByPath",
        "ListEventBuses",
        "ListTopics",
        "ListSubscriptionsByTopic",
        "GET",
        "HEAD",
    }
)


class RequestGate:
    """A readers-writer lock that prefers the writer: calls share it, a snapshot excludes them."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._active = 0
        self._writer_waiting = False

    def acquire_shared(self) -> None:
        with self._condition:
            self._condition.wait_for(lambda: not self._writer_waiting)
            self._active += 1

    def release_shared(self) -> None:
        with self._condition:
            self._active -= 1
            if self._active == 0:
                self._condition.notify_all()

    @contextmanager
    def shared(self) -> Iterator[None]:
        self.acquire_shared()
        try:
            yield
        finally:
            self.release_shared()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        self.freeze()
        try:
            yield
        finally:
            with self._condition:
                self._writer_waiting = False
                self._condition.notify_all()

    def freeze(self) -> None:
        """Wait for the calls being answered, and hold every later one off (for good, unless
        `exclusive` lets go)."""
        with self._condition:
            self._condition.wait_for(lambda: not self._writer_waiting)
            self._writer_waiting = True
            self._condition.wait_for(lambda: self._active == 0)


_local = threading.local()


def long_polls_let_go(gate: RequestGate) -> None:
    """A ReceiveMessage waiting for messages must not hold off a snapshot for its whole wait."""
    from moto.sqs import models

    wait_for_messages = models.Queue.wait_for_messages

    def waiting_without_the_gate(self: Any, timeout: int) -> None:
        holding = getattr(_local, "holding", False)
        if holding:
            gate.release_shared()
        try:
            wait_for_messages(self, timeout)
        finally:
            if holding:
                gate.acquire_shared()

    models.Queue.wait_for_messages = waiting_without_the_gate  # type: ignore[method-assign]


class GatedApplication:
    """moto's WSGI app behind the gate; counts calls per service and operation.

    `GET /_sluice/calls` answers the counts as JSON (benchmarks read it to count calls per job).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], gate: RequestGate) -> None:
        self._app = app
        self._gate = gate
        self.calls: Counter[str] = Counter()
        self.changes = 0  # grows with every call that may have changed the state

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == CALLS_PATH:
            body = json.dumps(dict(self.calls), sort_keys=True).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        operation = _operation(environ)
        self.calls[operation] += 1
        with self._gate.shared():
            _local.holding = True
            try:
                body_parts = list(self._app(environ, start_response))
            finally:
                _local.holding = False
        action = operation.rsplit(".", 1)[-1]
        if action not in _READ_ONLY and not (
            action == "ReceiveMessage" and not any(b"MessageId" in part for part in body_parts)
        ):
            self.changes += 1
        return body_parts


def _operation(environ: dict[str, Any]) -> str:
    """`DynamoDB_20120810.UpdateItem`, `AmazonSQS.SendMessage`, `Action=Publish`, or `s3 PUT`."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        service, _, action = str(target).partition(".")
        return f"{service.split('_')[0]}.{action}"
    query = str(environ.get("QUERY_STRING", ""))
    for pair in query.split("&"):
        if pair.startswith("Action="):
            return f"query.{pair[len('Action=') :]}"
    return f"rest.{environ.get('REQUEST_METHOD', '?')}"


# --- snapshots ---------------------------------------------------------------------------------


def _ssm_resource_tags() -> defaultdict[str, dict[str, str]]:
    return defaultdict(dict)


# moto builds a few defaultdicts with lambdas, which pickle cannot name; these stand in for them.
_LOCAL_FACTORIES: dict[str, Callable[[], Any]] = {
    "SimpleSystemManagerBackend.__init__.<locals>.<lambda>": _ssm_resource_tags,
}


def _rebuild_defaultdict(cls: Any, factory: Any, state: dict[str, Any] | None) -> Any:
    rebuilt = cls.__new__(cls)
    rebuilt.default_factory = factory
    if state:
        rebuilt.__dict__.update(state)
    return rebuilt


def _reduce_defaultdict(value: Any) -> Any:
    factory = value.default_factory
    if factory is not None and "<locals>" in getattr(factory, "__qualname__", ""):
        try:
            factory = _LOCAL_FACTORIES[factory.__qualname__]
        except KeyError:
            raise pickle.PicklingError(f"no stand-in for moto's factory {factory.__qualname__}") from None
    state = getattr(value, "__dict__", None)
    return _rebuild_defaultdict, (type(value), factory, state), None, None, iter(value.items())


def _dispatch_table() -> dict[Any, Any]:
    from moto.ssm.models import ParameterDict

    table: dict[Any, Any] = dict(copyreg.dispatch_table)
    # Locks and conditions guard a live process; a restored backend gets fresh ones.
    table[threading.Condition] = lambda _: (threading.Condition, ())
    table[type(threading.Lock())] = lambda _: (threading.Lock, ())
    table[type(threading.RLock())] = lambda _: (threading.RLock, ())
    table[defaultdict] = _reduce_defaultdict
    table[ParameterDict] = _reduce_defaultdict
    return table


def _backends() -> dict[str, dict[str, dict[str, Any]]]:
    """{service: {account: {region: backend}}} for every backend moto has created."""
    from moto.core.base_backend import BackendDict

    return {
        backends.service_name: {account: dict(regions) for account, regions in backends.items()}
        for backends in list(BackendDict._instances)  # type: ignore[misc]  # moto's registry of backends in use
        if backends.service_name != "moto_api"
    }


def dumps() -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()
    pickler.dump({"format": FORMAT, "moto": _moto_version(), "backends": _backends()})
    return buffer.getvalue()


def write_snapshot(path: Path) -> int:
    """Write the backends to `path` atomically; returns the size in bytes."""
    blob = dumps()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as file:
        file.write(blob)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return len(blob)


def restore(path: Path) -> int:
    """Load a snapshot into moto's backends, before any call is served; returns backends restored."""
    from moto.backends import get_backend

    snapshot = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, in the checkout's .sluice
    if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
        raise ValueError(f"{path} is not a local platform snapshot")
    if snapshot.get("moto") != _moto_version():
        raise ValueError(
            f"{path} was written by moto {snapshot.get('moto')}, this is {_moto_version()}: "
            "`make reset` starts clean"
        )
    restored = 0
    for service, accounts in snapshot["backends"].items():
        live = get_backend(service)
        for account, regions in accounts.items():
            for region, backend in regions.items():
                _forget_cached_counts(backend)
                live[account][region] = backend
                restored += 1
    return restored


def _forget_cached_counts(backend: Any) -> None:
    """moto_speedups caches queue counts against this process's clock; let them recompute."""
    for queue in getattr(backend, "queues", {}).values():
        vars(queue).pop("_sluice_counts", None)


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


class Snapshotter(threading.Thread):
    """Every `interval_s`, if calls changed anything, fork a child that writes the snapshot."""

    def __init__(self, path: Path, *, gate: RequestGate, app: GatedApplication, interval_s: float) -> None:
        super().__init__(daemon=True, name="moto-snapshots")
        self._path = path
        self._gate = gate
        self._app = app
        self._interval = interval_s
        self._stop_event = threading.Event()
        self._saved_changes = app.changes
        self.snapshots = 0

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            if self._app.changes != self._saved_changes:
                self.snapshot_in_background()

    def snapshot_in_background(self) -> bool:
        changes = self._app.changes
        started = time.monotonic()
        with self._gate.exclusive():
            pid = os.fork()
            if pid == 0:  # the child: a frozen copy of the backends, written and gone
                code = 1
                try:
                    write_snapshot(self._path)
                    code = 0
                finally:
                    os._exit(code)
        status = self._wait_for(pid)
        if status != 0:
            logger.error("snapshot of the local AWS state failed; the previous one is kept")
            return False
        self._saved_changes = changes
        self.snapshots += 1
        logger.debug("snapshot in %.2fs", time.monotonic() - started)
        return True

    @staticmethod
    def _wait_for(pid: int, timeout_s: float = 300) -> int:
        """The child's exit code; a child that hangs is killed (-9), and the old snapshot kept."""
        deadline = time.monotonic() + timeout_s
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return -9
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=self._interval + 60)
