"""What a running local platform publishes in `.sluice/outputs.json`, and a boto3 session for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

DEFAULT_OUTPUTS = Path(__file__).resolve().parents[2] / ".sluice" / "outputs.json"
# moto accepts any credentials; fixed ones keep a developer's real AWS profile out of local runs.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def read_outputs(path: Path = DEFAULT_OUTPUTS) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def local_session(outputs: dict[str, Any]) -> boto3.session.Session:
    """A session in the platform's region with local credentials; pass `outputs["AwsEndpointUrl"]`
    as `endpoint_url` to its clients."""
    return boto3.session.Session(region_name=outputs["Region"], **LOCAL_CREDENTIALS)
