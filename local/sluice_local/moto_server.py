"""The local platform's AWS: a moto server in its own process, patched for platform-sized work.

    python -m sluice_local.moto_server --host 127.0.0.1 --port 5000 [--state-file F]

A process of its own, not a thread of the platform: moto spends as much CPU per call as the
handlers calling it, and sharing one interpreter lock with them would halve what both can do.
The patches (`moto_speedups`, and S3 events that name the object version) must run in the
process that serves the calls, which is this one. waitress serves moto's WSGI app instead of
werkzeug's development server, which closes the connection after every response: each AWS
call was a new TCP connection and a new server thread. (waitress, like werkzeug, drops request
headers with an underscore in their name; moto's own server keeps them for S3 user metadata,
which the platform does not use.)

With `--state-file`, the state survives restarts (`moto_state`): restored from the file before
the port opens, snapshotted every `--snapshot-interval` seconds while anything changes, and
written one last time on SIGTERM or Ctrl-C after the last call was answered.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--state-file", type=Path, help="keep the state here across restarts")
    parser.add_argument("--snapshot-interval", type=float, default=2.0, help="seconds between snapshots")
    parser.add_argument("--name", default="moto", help="how this server calls itself in messages")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        stop.set()

    # First thing: a stop that comes while moto loads still ends with the state saved.
    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress.server import create_server

    from sluice_local import moto_state
    from sluice_local.moto_speedups import speed_up_moto
    from sluice_local.uploads import include_version_ids_in_s3_events

    speed_up_moto()  # an uploaded file is 100,000s of queued messages and transactions
    include_version_ids_in_s3_events()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" at bursts

    if args.state_file is not None and args.state_file.exists():
        try:
            restored = moto_state.restore(args.state_file)
        except (ValueError, OSError, EOFError) as error:  # never serve half a state
            print(f"{args.name}: cannot restore {args.state_file}: {error}", file=sys.stderr)
            return 2
        print(f"{args.name}: restored {restored} backends from {args.state_file}", flush=True)

    gate = moto_state.RequestGate()
    moto_state.long_polls_let_go(gate)
    app = moto_state.GatedApplication(DomainDispatcherApplication(create_backend_app), gate)
    # Threads: every poller holds one through a long poll, and the handlers call in parallel.
    server = create_server(
        app, host=args.host, port=args.port, threads=48, connection_limit=1000, channel_timeout=300
    )
    snapshots = None
    if args.state_file is not None:
        snapshots = moto_state.Snapshotter(
            args.state_file, gate=gate, app=app, interval_s=args.snapshot_interval
        )
        snapshots.start()

    serving = threading.Thread(target=server.run, daemon=True, name="moto-http")
    serving.start()
    stop.wait()
    if snapshots is not None:
        snapshots.stop()
    # Let the calls being answered finish and hold every later one off, for good: the state
    # saved is the state the last answers described.
    gate.freeze()
    if args.state_file is not None:
        size = moto_state.write_snapshot(args.state_file)
        print(f"{args.name}: state saved to {args.state_file} ({size / 1e6:.1f} MB)", flush=True)
    sys.stdout.flush()
    os._exit(0)  # not server.close(): its worker threads would still write to the closed trigger
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
