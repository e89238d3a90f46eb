"""How long `import sluice.pii` takes in a fresh interpreter (target: at most 150 ms).

Timing belongs in a benchmark, not a test: `python bench/pii_import_time.py [--json]`.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

# Clock time, and the process's CPU time: on a machine shared with other jobs the clock also
# counts waiting for a core, the CPU time does not.
_PROBE = (
    "import time; t = time.perf_counter(); c = time.process_time(); import sluice.pii; "
    "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
)


def measure(runs: int = 7) -> list[tuple[float, float]]:
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
        wall, cpu = out.stdout.split()
        samples.append((float(wall), float(cpu)))
    return samples


def main() -> None:
    samples = measure()
    median = statistics.median(wall for wall, _ in samples)
    median_cpu = statistics.median(cpu for _, cpu in samples)
    if "--json" in sys.argv:
        print(json.dumps({"median_ms": median, "median_cpu_ms": median_cpu, "samples_ms": samples}))
    else:
        print(
            f"import sluice.pii: median {median:.1f} ms ({median_cpu:.1f} ms CPU) "
            f"over {len(samples)} fresh interpreters"
        )


if __name__ == "__main__":
    main()
