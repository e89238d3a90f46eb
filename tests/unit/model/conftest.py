"""The model's handler, imported by path as SageMaker's container and the local endpoint import it."""

from __future__ import annotations

from types import ModuleType

import pytest

from sluice_local.endpoint import load_handler


@pytest.fixture(scope="session")
def inference() -> ModuleType:
    return load_handler()
