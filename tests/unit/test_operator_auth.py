"""The local front's AWS_IAM authorization: SigV4 verified with botocore's signer, the signer's
identity passed on as API Gateway does, anything else refused with 403 in the envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from sluice_local.front import build_front
from sluice_local.operator_auth import Refusal, load_operators, sign, verify

URL = "http://testserver/v1/reviews?state=open"


class Recorder:
    """A function pool that answers 200 and keeps the events it was given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


def test_a_signed_call_reaches_the_operator_function_with_the_iam_identity(tmp_path: Path) -> None:
    operators = load_operators(tmp_path / "operators.json")
    operator = next(iter(operators.values()))
    api, reviews = Recorder(), Recorder()
    client = TestClient(
        build_front(api, api_keys={"k": "tenant"}, stage="dev", operator_api=reviews, operators=operators)  # type: ignore[arg-type]
    )
    signed = client.get(URL, headers=sign("GET", URL, b"", operator, region="us-east-1"))
    assert signed.status_code == 200
    [event] = reviews.events
    assert event["requestContext"]["identity"]["userArn"] == "arn:aws:iam::123456789012:user/local-operator"
    assert event["requestContext"]["identity"]["apiKeyId"] is None
    assert api.events == []
    # Unsigned, or with a tenant's API key instead: refused before any function runs
    for headers in ({}, {"x-api-key": "k"}):
        refused = client.get(URL, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "MISSING_AUTHENTICATION_TOKEN"
    assert len(reviews.events) == 1
    assert (tmp_path / "operators.json").stat().st_mode & 0o777 == 0o600


def test_a_tampered_unknown_or_stale_signature_is_refused(tmp_path: Path) -> None:
    operators = load_operators(tmp_path / "operators.json")
    operator = next(iter(operators.values()))
    body = b'{"label": "card_arrival"}'
    url = "http://testserver/v1/reviews/" + "a" * 32 + "/resolution"
    headers = sign("POST", url, body, operator, region="us-east-1")
    assert (
        verify(method="POST", url=url, headers=headers, body=body, operators=operators, region="us-east-1")
        == operator
    )
    tampered = verify(
        method="POST", url=url, headers=headers, body=body + b" ", operators=operators, region="us-east-1"
    )
    assert isinstance(tampered, Refusal)
    assert tampered.code == "INVALID_SIGNATURE"
    unknown = verify(method="POST", url=url, headers=headers, body=body, operators={}, region="us-east-1")
    assert isinstance(unknown, Refusal)
    later = datetime.now(UTC) + timedelta(minutes=16)
    stale = verify(
        method="POST", url=url, headers=headers, body=body, operators=operators, region="us-east-1", now=later
    )
    assert isinstance(stale, Refusal)
    other_region = verify(
        method="POST", url=url, headers=headers, body=body, operators=operators, region="eu-west-1"
    )
    assert isinstance(other_region, Refusal)
