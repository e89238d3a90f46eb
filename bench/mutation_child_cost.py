"""What one mutant's process costs `make mutation`, with and without the fork server's warm-up.

mutmut forks a child per mutant from a process that has collected the tests, and the child runs
the mutant's tests with `pytest.main`. This forks the same way, four times per test id and mode,
and prints the CPU seconds of each child (user + system):

    .venv/bin/python bench/mutation_child_cost.py tests/unit/test_breaker.py::test_... [more ids]

"cold" is a fork server that only collected (mutmut's default); "warm" is one that also ran
tests/mutation_plugin.py's warm-up (SLUICE_MUTATION=1). Each mode runs in its own interpreter.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["-p", "no:cacheprovider", "-q"]


def _child_cpu(tests: list[str]) -> float:
    import pytest

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os._exit(int(pytest.main(["-x", *ARGS, *tests])))
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the tests failed in the child: {tests}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def measure(tests: list[str]) -> None:
    """In this interpreter: collect like mutmut's fork server, then fork one child per test."""
    import pytest

    os.environ["MUTANT_UNDER_TEST"] = ""
    pytest.main(["--collect-only", "-qqq", *ARGS, *tests])
    for test in tests:
        costs = [_child_cpu([test]) for _ in range(4)]
        print(f"  {test}: " + ", ".join(f"{cost:.2f}" for cost in costs) + " CPU s", flush=True)


def main() -> int:
    tests = sys.argv[1:]
    if not tests:
        print(__doc__)
        return 2
    if os.environ.get("_MUTATION_CHILD_COST") == "1":
        measure(tests)
        return 0
    for mode, warm in (("cold", "0"), ("warm", "1")):
        print(f"{mode} fork server:", flush=True)
        env = {**os.environ, "_MUTATION_CHILD_COST": "1", "SLUICE_MUTATION": warm}
        subprocess.run([sys.executable, __file__, *tests], cwd=ROOT, env=env, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
