"""Shared test set-up: no real AWS credentials or endpoints can ever be used."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator

import pytest

# Set before any test module imports boto3, so nothing can reach a real account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "SluiceTests",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
    os.environ.pop(variable, None)


@pytest.fixture
def lambda_context() -> object:
    from sluice_local.runtime import LocalContext

    return LocalContext(function_name="sluice-test", timeout_seconds=30)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the platform logger writes during the test, formatted as in production."""
    from sluice.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


# `make mutation` only (tools/mutation.py sets it): warm the fork server, likely killers first.
if os.environ.get("SLUICE_MUTATION") == "1":
    from tests.mutation_plugin import (  # noqa: F401 (pytest hooks, found by name)
        pytest_collection_finish,
        pytest_collection_modifyitems,
        pytest_runtest_logreport,
    )
