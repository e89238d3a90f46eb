"""What a function does in Lambda's init phase: wire itself from its own settings, once.

Each case runs in a fresh interpreter, as a cold start does: nothing imported or warmed by
another test can hide a dependency that is only built on the first request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Provisions the local resources on moto, imports one handler the way Lambda's init does, and
# reports what the import built, before any request.
COLD_START = """
import json, sys
from moto import mock_aws
import boto3
from sluice.config import DeploymentConfig
from sluice_local.provision import function_settings, provision
from sluice_local.routing import provision_routing
from sluice_local.uploads import provision_uploads
from sluice_local.runtime import load_handler

function = sys.argv[1]
with mock_aws():
    session = boto3.session.Session(region_name="us-east-1")
    c = session.client
    config = DeploymentConfig()
    resources = provision(config, dynamodb=c("dynamodb"), sqs=c("sqs"), events=c("events"), region="us-east-1")
    resources = provision_uploads(config, resources, s3=c("s3"), sqs=c("sqs"), dynamodb=c("dynamodb"))
    resources = provision_routing(
        config, resources, dynamodb=c("dynamodb"), s3=c("s3"), sns=c("sns"), sqs=c("sqs"), ssm=c("ssm")
    )
    environment = function_settings(config, resources).environments()[function]
    environment["PII_KEY_FILE"] = sys.argv[2]
    load_handler(function, environment)
    from sluice.observability import logger, metrics
    from sluice.pii.lexicon import lexicon
    from sluice.pii.tagger import model
    print(json.dumps({
        "pii_warm": lexicon.cache_info().currsize == 1 and model.cache_info().currsize == 1,
        "service": logger.service,
        "metrics_service": metrics.service,
    }))
"""


def _cold_start(function: str, tmp_path: Path) -> dict[str, object]:
    completed = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", COLD_START, function, str(tmp_path / "pii.key")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("function", "redacts"),
    # The worker and async_result scan model outputs with the inputs' detector (sluice.guardrails);
    # the reviews function redacts reviewers' notes; review_intake only files items.
    [
        ("api", True),
        ("ingest", True),
        ("worker", True),
        ("async_result", True),
        ("reviews", True),
        ("review_intake", False),
    ],
)
def test_a_function_wires_itself_at_init_under_its_own_service_name(
    function: str, redacts: bool, tmp_path: Path
) -> None:
    # When the handler is imported (Lambda's init), before any request
    report = _cold_start(function, tmp_path)

    # Then a function that redacts has loaded the word lists and the tagger (the first request
    # does not pay ~0.9 s for them), and every function logs and measures as itself
    assert report["pii_warm"] is redacts
    assert report["service"] == f"sluice-{function}"
    assert report["metrics_service"] == f"sluice-{function}"
