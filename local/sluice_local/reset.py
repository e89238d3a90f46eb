"""`make reset`: forget the local platform's state, so that the next `make run` starts clean.

Deletes `.sluice/state/` (the moto snapshots: tables, queues, buckets, parameters). Keeps the
trained model, the API key and the PII key. Refuses while a platform is running on that state.
"""

from __future__ import annotations

import shutil
import sys
import urllib.request
from contextlib import suppress
from pathlib import Path

from sluice_local.moto_state import CALLS_PATH
from sluice_local.outputs import DEFAULT_OUTPUTS, read_outputs
from sluice_local.platform import DURABLE_STATE


def _running(outputs: Path) -> bool:
    if not outputs.exists():
        return False
    url = read_outputs(outputs).get("AwsEndpointUrl", "")
    with suppress(OSError, ValueError), urllib.request.urlopen(url + CALLS_PATH, timeout=2):  # noqa: S310 - loopback
        return True
    return False


def main(state: Path = DURABLE_STATE, outputs: Path = DEFAULT_OUTPUTS) -> int:
    if _running(outputs):
        print("The local platform is running: stop it (Ctrl-C) before `make reset`.", file=sys.stderr)
        return 1
    if state.exists():
        shutil.rmtree(state)
        print(f"Removed {state}: the next `make run` starts with empty tables, queues and buckets.")
    else:
        print("No local state to remove.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
