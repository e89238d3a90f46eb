"""The local platform's AWS: a moto server in its own process, patched for platform-sized work.

    python -m sluice_local.moto_server --host 127.0.0.1 --port 5000

A process of its own, not a thread of the platform: moto spends as much CPU per call as the
handlers calling it, and sharing one interpreter lock with them would halve what both can do.
The patches (`moto_speedups`, and S3 events that name the object version) must run in the
process that serves the calls, which is this one. Stops cleanly on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)

    from moto.server import ThreadedMotoServer

    from sluice_local.moto_speedups import speed_up_moto
    from sluice_local.uploads import include_version_ids_in_s3_events

    speed_up_moto()  # an uploaded file is 100,000s of queued messages and transactions
    include_version_ids_in_s3_events()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call drowns the banner

    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
