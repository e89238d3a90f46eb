"""`make ab-report` on moto: the inference log, job records and feedback of two arms become the
table and the plot, with a queued job counted once and failed jobs as errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
from sluice.adapters.dynamodb_jobs import DynamoJobStore
from sluice.jobs.models import ErrorDetail, Job, JobStatus
from sluice.lifecycle.ab import render_markdown
from sluice.lifecycle.feedback import Feedback, ServedInference
from sluice_local.ab_report import _records, plot
from sluice_local.feedback import provision_feedback_table
from tests.functional.conftest import Platform
from tests.sample_events import api_event

OUTPUTS = {"FeedbackTableName": "feedback", "JobsTableName": "jobs"}


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        provision_feedback_table(client, OUTPUTS["FeedbackTableName"])
        client.create_table(
            TableName=OUTPUTS["JobsTableName"],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def serve(store: DynamoFeedbackStore, job_id: str, variant: str, *, right: bool, latency: float) -> None:
    version = {"primary": "v1", "canary": "v2"}[variant]
    store.record(
        ServedInference(
            tenant="tenant-acme",
            job_id=job_id,
            route="intent",
            input={"text": "where is my card"},
            answered=True,
            variant=variant,
            model_version=version,
            predicted_label="card_arrival",
            confidence=0.9 if variant == "primary" else 0.6,
            latency_ms=latency,
        )
    )
    store.put(
        Feedback(
            tenant="tenant-acme",
            job_id=job_id,
            route="intent",
            variant=variant,
            model_version=version,
            rating=5 if right else 1,
            label=None if right else "lost_or_stolen_card",
            predicted_label="card_arrival",
            comment=None,
        )
    )


def test_the_report_reads_both_arms_from_the_platforms_records(dynamodb: Any, tmp_path: Path) -> None:
    # Given 60 sync answers on primary (57 right, ~40 ms) and 60 on canary (30 right, ~90 ms) ...
    store = DynamoFeedbackStore(dynamodb, OUTPUTS["FeedbackTableName"])
    for n in range(60):
        serve(store, f"p{n}", "primary", right=n >= 3, latency=40 + n % 7)
        serve(store, f"c{n}", "canary", right=n % 2 == 0, latency=90 + n % 7)
    # ... a queued job on canary that failed, one that succeeded (also in the log, unanswered),
    # one still queued, and a job of another route
    jobs = DynamoJobStore(dynamodb, OUTPUTS["JobsTableName"])
    common: dict[str, Any] = {"tenant": "tenant-acme", "variant": "canary", "model_version": "v2"}
    jobs.create(
        Job(
            id="q1",
            route="intent",
            status=JobStatus.FAILED,
            error=ErrorDetail(code="MODEL_ERROR", message="x"),
            **common,
        )
    )
    jobs.create(
        Job(
            id="q2",
            route="intent",
            status=JobStatus.SUCCEEDED,
            output={"intents": [{"label": "a", "score": 0.5}]},
            **common,
        )
    )
    store.record(ServedInference(tenant="tenant-acme", job_id="q2", route="intent", input={"text": "t"}))
    jobs.create(Job(id="q3", route="intent", status=JobStatus.QUEUED, **common))
    jobs.create(Job(id="o1", route="chat", status=JobStatus.FAILED, **common))

    # When the report judges the canary against the incumbent variant
    report = _records(dynamodb, OUTPUTS, "intent", baseline_variant="primary")
    plot([report], tmp_path / "ab.png")

    # Then each arm has its own figures; the queued jobs count once, the unfinished one not at all
    arms = {arm.arm: arm for arm in report.arms}
    assert set(arms) == {"primary@v1", "canary@v2"}
    assert (arms["primary@v1"].requests, arms["primary@v1"].feedback, arms["primary@v1"].correct) == (
        60,
        60,
        57,
    )
    assert (arms["canary@v2"].requests, arms["canary@v2"].errors, arms["canary@v2"].feedback) == (62, 1, 60)
    assert arms["primary@v1"].latency_p50_ms is not None
    assert arms["primary@v1"].latency_p50_ms < 50
    # and the canary is worse where it is, with no evidence on one failure in 62
    assert report.baseline == "primary@v1"
    verdicts = {c.figure: c.verdict for c in report.comparisons["canary@v2"]}
    assert verdicts == {
        "accuracy": "B worse",
        "error_rate": "no evidence at n=60/62",
        "latency": "B worse",
        "confidence": "B lower",
    }
    assert "| primary@v1 (A) | 60 | 0 |" in render_markdown(report)
    assert (tmp_path / "ab.png").stat().st_size > 10_000


def test_a_sync_answer_through_the_api_is_logged_with_its_latency_and_confidence(platform: Platform) -> None:
    # Given a sync answer through the api handler (the fake model answers with a score)
    _, answer, _ = platform.call(
        api_event(
            "post_inference_sync",
            body={
                "route": "intent",
                "input": {"text": "I still have not received my new card"},
                "mode": "sync",
            },
        )
    )

    # When the report's reader scans the inference log
    served = list(
        DynamoFeedbackStore(platform.dynamodb, platform.resources.feedback_table).served_on_route("intent")
    )

    # Then the answer is there once, with the API's own time and the top label's score
    assert [s.job_id for s in served] == [answer["id"]]
    assert served[0].latency_ms == answer["latency_ms"]
    assert served[0].confidence == answer["output"]["intents"][0]["score"]
    assert served[0].variant == answer["variant"]
