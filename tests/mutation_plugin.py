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

It also puts the unit tests of a mutant before its functional ones: mutmut stops at the first
failure (`-x`), and a unit test costs milliseconds where a functional one starts a moto platform.
"""

from __future__ import annotations

import os
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    if "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", ""):
        items.sort(key=lambda item: "tests/functional/" in item.nodeid or "platform" in item.fixturenames)
