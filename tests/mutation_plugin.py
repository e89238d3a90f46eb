"""Pytest hooks for `make mutation` only: tests/conftest.py loads them when SLUICE_MUTATION=1.

mutmut forks one child per mutant from a fork server that has only collected the tests. Every
child then paid, again, for what a process does once: importing moto's backends (SSM pulls in
EC2: 1.5 CPU seconds), parsing botocore's service models (1.7 s) and loading the PII word lists
and tagger (0.75 s). That was 3.4 CPU seconds for a mutant whose single test costs 0.3.

So, in the fork server's collection (and only there), this plugin starts one platform, answers
one request, detects once, and lets every child inherit the result. None of it is mutated code
run in a mutated state: the fork server runs the original functions (no mutant is active yet), and
nothing it warms is kept between tests in a mutated module (each test builds its own platform
and app). The one mutated function whose work it does in advance is `detection.warm`; its test
(`tests/unit/pii/test_detection_rules.py`) resets the flag it sets, so its mutants still meet it.

It also orders each mutant's tests so that the one likely to fail runs first, since mutmut stops
at the first failure (`-x`) and a killed mutant then costs one test, not its function's hundred:
1. the tests that killed earlier mutants of the same function, most kills first. A function's
   mutants run one after another (mutmut orders them by their tests' time, which they share),
   and one that breaks a function's behaviour is usually caught by the test that caught the
   last. Each mutant's child appends its first failing test to `SLUICE_MUTATION_KILLERS`, a
   per-run file that tools/mutation.py clears when a group starts afresh;
2. then unit tests before functional ones: a unit test costs milliseconds where a functional
   one starts a moto platform;
3. then the tests that killed mutants of other functions of the group, most kills first.
On the first full run serving spent 2,470 of its 3,759 mutant seconds on mutants that were
killed, most of it in tests run before the one that failed (docs/mutation.md).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

_WARM = False


def _warm_up() -> None:
    global _WARM
    if _WARM:
        return
    _WARM = True
    from sluice.pii.lexicon import lexicon
    from sluice.pii.tagger import model
    from tests.functional.conftest import DEFAULT_CONFIG, start_platform
    from tests.sample_events import api_event

    lexicon()
    model()
    with start_platform(DEFAULT_CONFIG) as running:
        running.call(api_event("post_inference_sync", tenant="tenant-acme"))


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly and os.environ.get("MUTANT_UNDER_TEST", "") == "":
        _warm_up()


def _function_of(mutant: str) -> str:
    """`sluice.serving.api.x_guard_request__mutmut_12` -> `sluice.serving.api.x_guard_request`."""
    return mutant.rsplit("__mutmut_", 1)[0]


def _mutant_under_test() -> str | None:
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    return mutant if "__mutmut_" in mutant else None


def _killers() -> list[dict[str, str]]:
    path = os.environ.get("SLUICE_MUTATION_KILLERS")
    if not path or not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    mutant = _mutant_under_test()
    if mutant is None:
        return
    function = _function_of(mutant)
    here: Counter[str] = Counter()
    elsewhere: Counter[str] = Counter()
    for kill in _killers():
        (here if kill["function"] == function else elsewhere)[kill["test"]] += 1
    items.sort(
        key=lambda item: (
            -here[item.nodeid],
            "tests/functional/" in item.nodeid or "platform" in item.fixturenames,
            -elsewhere[item.nodeid],
        )
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record the test that killed this mutant (with `-x`, the only one that fails)."""
    mutant = _mutant_under_test()
    path = os.environ.get("SLUICE_MUTATION_KILLERS")
    if mutant is None or not path or not report.failed:
        return
    # The mutant too: a kill that a later run does not repeat can then be traced to its test.
    line = json.dumps({"function": _function_of(mutant), "mutant": mutant, "test": report.nodeid}) + "\n"
    # One short append per killed mutant: O_APPEND keeps the two workers' lines whole.
    with open(path, "a", encoding="utf-8") as killers:
        killers.write(line)
