"""Start the whole local platform as a child process on free ports, for tests and benchmarks.

    with platform_process("--worker-batch-size", "1") as outputs:
        httpx.post(outputs["ApiUrl"] + "v1/inferences", ...)

Yields the platform's outputs (`.sluice/outputs.json`'s content, written to a temporary file so
a developer's own `make run` is left alone) once it prints its ready line; stops it on exit with
SIGTERM, as Ctrl-C would. Its state lives in a new temporary directory unless `state_dir` names
one (a test that restarts the platform passes the same one twice).
"""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sluice_local.outputs import read_outputs

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "[5/5] ready"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def platform_process(
    *extra_args: str,
    ready_timeout_s: float = 300,
    echo: Callable[[str], None] = lambda _: None,
    state_dir: Path | None = None,
) -> Iterator[dict[str, Any]]:
    """`extra_args` go to `python -m sluice_local.platform`; `echo` sees every line it prints."""
    scratch = Path(tempfile.mkdtemp())
    outputs = scratch / "outputs.json"
    state = ("--state-dir", str(state_dir or scratch / "state"))
    # The functions' EMF copy goes to the scratch directory too, not the developer's .sluice.
    metrics = () if "--metrics-file" in extra_args else ("--metrics-file", str(scratch / "emf.jsonl"))
    ports = (
        "--api-port",
        str(free_port()),
        "--endpoint-port",
        str(free_port()),
        "--moto-port",
        str(free_port()),
        "--dynamodb-port",
        str(free_port()),
    )
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
        [
            sys.executable,
            "-m",
            "sluice_local.platform",
            "--outputs",
            str(outputs),
            *ports,
            *state,
            *metrics,
            *extra_args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            echo(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while (line := lines.get(timeout=ready_timeout_s)) is not None and READY_LINE not in line:
            pass
        if line is None:
            raise RuntimeError(f"the local platform exited with status {process.wait()}")
        yield read_outputs(outputs)
    finally:
        process.terminate()
        try:
            process.wait(timeout=120)  # in-flight invocations finish, then moto saves its state
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
