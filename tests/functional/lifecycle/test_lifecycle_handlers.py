"""The feedback_export and deploy handlers, imported as Lambda's init does with the environment
their settings render, invoked with the events their rules deliver (on moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sluice.lifecycle.feedback import Feedback
from sluice.lifecycle.rollout import RolloutTarget
from sluice.runtime import deploy, feedback_export
from sluice_local.feedback import provision_feedback_table
from sluice_local.runtime import LocalContext, load_handler

REGION = "us-east-1"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        s3, dynamodb, events, ssm = (session.client(n) for n in ("s3", "dynamodb", "events", "ssm"))
        s3.create_bucket(Bucket="lifecycle")
        events.create_event_bus(Name="bus")
        provision_feedback_table(dynamodb, "feedback")
        ssm.put_parameter(Name="/routes", Value=json.dumps({"routes": {}}), Type="String")
        yield {"s3": s3, "dynamodb": dynamodb}


def test_the_export_handler_exports_on_its_schedule(aws: dict[str, Any]) -> None:
    # Given a labelled feedback, and the function's environment as the stack renders it
    from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore

    DynamoFeedbackStore(aws["dynamodb"], "feedback").put(
        Feedback(
            tenant="a",
            job_id="j1",
            route="intent",
            variant="p",
            model_version="v1",
            rating=1,
            label="card_arrival",
            predicted_label="x",
            comment=None,
            input={"text": "where is my card"},
            created_at=datetime(2026, 12, 1, 10, tzinfo=UTC),
        )
    )
    environment = feedback_export.Settings(
        service_name="sluice-feedback_export",
        feedback_table="feedback",
        training_data_bucket="lifecycle",
        routes=["intent"],
        event_bus_name="bus",
    ).environment() | {"AWS_DEFAULT_REGION": REGION}
    # When Lambda imports the handler and the schedule invokes it
    _, handler = load_handler("feedback_export", environment)
    result = handler(
        {"id": "e1", "time": "2026-12-01T12:00:00Z", "detail-type": "Scheduled Event"},
        LocalContext(function_name="feedback_export", timeout_seconds=300),
    )
    # Then it reports the route's export (counts only) and the rows are where prepare reads them
    assert result == {"routes": [{"route": "intent", "exported": 1, "new_labelled": 1, "triggered": False}]}
    body = aws["s3"].get_object(Bucket="lifecycle", Key="data/feedback/intent/labelled.jsonl")["Body"].read()
    assert json.loads(body)["label"] == "card_arrival"


def test_the_deploy_handler_settles_nothing_when_nothing_is_in_flight_and_ignores_others(
    aws: dict[str, Any],
) -> None:
    environment = deploy.Settings(
        service_name="sluice-deploy",
        event_bus_name="bus",
        lifecycle_bucket="lifecycle",
        route_table_parameter="/routes",
        targets=[RolloutTarget(route="intent", endpoint="sluice-intent", variant="primary", alarms=("a",))],
        package_groups={"sluice-intent": "intent"},
        pipelines={"sluice-retrain-intent": "intent"},
    ).environment() | {"AWS_DEFAULT_REGION": REGION}
    _, handler = load_handler("deploy", environment)
    context = LocalContext(function_name="deploy", timeout_seconds=120)
    settled = handler(
        {
            "detail-type": "SageMaker Endpoint State Change",
            "detail": {"EndpointName": "sluice-intent", "EndpointStatus": "IN_SERVICE"},
        },
        context,
    )
    other = handler({"detail-type": "Something Else", "detail": {}}, context)
    assert settled == {"action": "settle", "route": "intent", "outcome": "nothing_in_flight"}
    assert other["outcome"] == "unknown_event"
