"""How long `import sluice.pii` takes in a fresh interpreter (target: at most 150 ms).

Timing belongs in a benchmark, not a test: `python bench/pii_import_time.py [--json]`.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

_PROBE = "import time; t = time.perf_counter(); import sluice.pii; print((time.perf_counter() - t) * 1000)"


def measure(runs: int = 7) -> list[float]:
    return [
        float(
            subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
        )
        for _ in range(runs)
    ]


def main() -> None:
    samples = measure()
    median = statistics.median(samples)
    if "--json" in sys.argv:
        print(json.dumps({"median_ms": median, "samples_ms": samples}))
    else:
        print(f"import sluice.pii: median {median:.1f} ms over {len(samples)} fresh interpreters")


if __name__ == "__main__":
    main()
