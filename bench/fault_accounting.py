"""`make faults`: the fault suite at a larger size, and its accounting as a report.

Runs `tests/functional/faults.py` on the functional platform (the real api and worker wiring on
moto, a scripted endpoint). Writes bench/results/faults.md; exits non-zero if a promise broke.

    .venv/bin/python bench/fault_accounting.py --per-fault 30
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tests.conftest  # noqa: E402, F401 - fake credentials and a test environment
from tests.functional import faults  # noqa: E402
from tests.functional.conftest import DEFAULT_CONFIG, start_platform  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "faults.md"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-fault", type=int, default=30, help="requests per fault")
    parser.add_argument("--poison", type=int, default=10)
    args = parser.parse_args()
    print(f"fault suite: {args.per_fault} requests per fault, {args.poison} poison messages", flush=True)
    with start_platform(DEFAULT_CONFIG) as platform:
        accounting = faults.run(platform, per_fault=args.per_fault, poison=args.poison)
    report = accounting.report()
    print(report, flush=True)
    RESULTS.write_text(
        "# Fault suite: the accounting\n\n"
        f"`.venv/bin/python bench/fault_accounting.py --per-fault {args.per_fault} --poison {args.poison}` "
        "(`make faults`); the same scenario runs smaller in `tests/functional/test_fault_accounting.py`.\n\n"
        + report
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 1 if accounting.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
