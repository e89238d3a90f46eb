"""How long `make run` takes to answer `GET /v1/health`: the first time on a fresh clone, then again.

    python3 bench/startup_bench.py [--clone /tmp/sluice-fresh]

Clones this repository (its committed HEAD) into a new folder, runs `make run` there and polls
the health route until it answers 200 (the first start: venv, pip and npm installs, training the
model); stops it with Ctrl-C's signal, then starts it again in the same clone and measures the
second start. Needs ports 8000, 8080 and 5000 free. Uses only the standard library, so it runs
before any set-up; pip's and npm's download caches on this machine are whatever they are, and
the figures say so.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEALTH = "http://127.0.0.1:8000/v1/health"


def _healthy() -> bool:
    with suppress(OSError), urllib.request.urlopen(HEALTH, timeout=2) as response:
        return bool(response.status == 200)
    return False


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def time_to_health(clone: Path, log: Path, timeout_s: float) -> float:
    """Seconds from `make run` to a 200 from the health route; then stops it cleanly."""
    with log.open("w") as output:
        started = time.monotonic()
        # Its own process group, so the stop below reaches every process as Ctrl-C in a terminal would.
        process = subprocess.Popen(
            ["make", "run"],  # noqa: S607
            cwd=clone,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while not _healthy():
                if process.poll() is not None:
                    raise SystemExit(f"`make run` exited with {process.returncode}; see {log}")
                if time.monotonic() - started > timeout_s:
                    raise SystemExit(f"no answer from {HEALTH} within {timeout_s:.0f}s; see {log}")
                print(f"\r  waiting for {HEALTH}: {time.monotonic() - started:5.0f}s", end="", flush=True)
                time.sleep(1)
            elapsed = time.monotonic() - started
            print(f"\r  healthy after {elapsed:.1f}s" + " " * 30, flush=True)
            return elapsed
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clone", type=Path, help="where to clone (a new temporary folder by default)")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    busy = [port for port in (8000, 8080, 5000) if _listening(port)]
    if busy:
        raise SystemExit(f"ports {busy} are in use (a `make run` elsewhere?): the figures would be its")
    clone = args.clone or Path(tempfile.mkdtemp(prefix="sluice-fresh-"))
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)  # noqa: S607
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=clone,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"fresh clone of {commit} in {clone}")
    print("[1/2] first `make run` (set-up, installs, training)")
    first = time_to_health(clone, clone / "first-run.log", args.timeout)
    print("[2/2] second `make run`")
    second = time_to_health(clone, clone / "second-run.log", args.timeout)
    print(
        f"\n| start | seconds to GET /v1/health = 200 | target |\n|---|---:|---:|\n"
        f"| first, fresh clone of {commit} | {first:.0f} | 300 |\n| second | {second:.1f} | 30 |"
    )
    return 0 if first <= 300 and second <= 30 else 1


if __name__ == "__main__":
    sys.exit(main())
