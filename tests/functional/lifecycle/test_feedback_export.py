"""The feedback export on moto: training rows where the pipeline's prepare step reads them, and
`LabelledFeedbackArrived` once per threshold's worth of new labelled feedback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
from sluice.adapters.s3_training_data import S3TrainingData
from sluice.events import Event
from sluice.lifecycle.config import FeedbackExportPolicy
from sluice.lifecycle.feedback import Feedback
from sluice.lifecycle.feedback_export import FeedbackExporter
from sluice_local.feedback import provision_feedback_table

BUCKET = "lifecycle"
NOON = datetime(2026, 12, 1, 12, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.events: list[Event[Any]] = []

    def publish(self, event: Event[Any]) -> None:
        self.events.append(event)


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        provision_feedback_table(dynamodb, "feedback")
        yield {"s3": s3, "store": DynamoFeedbackStore(dynamodb, "feedback")}


def labelled(store: DynamoFeedbackStore, count: int, *, start: int, at: datetime) -> None:
    for i in range(start, start + count):
        store.put(
            Feedback(
                tenant="a",
                job_id=f"job{i}",
                route="intent",
                variant="primary",
                model_version="v1",
                rating=1,
                label="card_arrival",
                predicted_label="exchange_rate",
                comment="not exported",
                input={"text": f"where is card number {i}"},
                created_at=at,
            )
        )


def exporter(aws: dict[str, Any], sink: Sink) -> FeedbackExporter:
    return FeedbackExporter(
        history=aws["store"],
        sink=S3TrainingData(aws["s3"], bucket=BUCKET, prefix="data/feedback"),
        events=sink,
        policy=FeedbackExportPolicy(min_new_labelled=3),
    )


def test_enough_new_labelled_feedback_triggers_once_and_the_next_trigger_needs_as_many_again(
    aws: dict[str, Any],
) -> None:
    sink = Sink()
    # Given 3 labelled feedback (the threshold) before 11:00
    labelled(aws["store"], 3, start=0, at=NOON - timedelta(hours=2))
    # When the export runs at 11:00, again at 12:00 with 2 more, and at 13:00 with 1 more
    first = exporter(aws, sink).run(["intent"], now=NOON - timedelta(hours=1), correlation_id="c1")
    labelled(aws["store"], 2, start=3, at=NOON - timedelta(minutes=30))
    second = exporter(aws, sink).run(["intent"], now=NOON, correlation_id="c2")
    labelled(aws["store"], 1, start=5, at=NOON + timedelta(minutes=30))
    third = exporter(aws, sink).run(["intent"], now=NOON + timedelta(hours=1), correlation_id="c3")
    # Then the first and third trigger retraining (3 new each time), the second does not (2 new)
    assert [r[0].triggered for r in (first, second, third)] == [True, False, True]
    assert [r[0].new_labelled for r in (first, second, third)] == [3, 2, 3]
    assert [e.metadata.name for e in sink.events] == ["LabelledFeedbackArrived"] * 2
    assert sink.events[1].detail.total_labelled == 6  # type: ignore[attr-defined]
    # And the export holds every labelled row, as the prepare step reads them, without comments
    body = aws["s3"].get_object(Bucket=BUCKET, Key="data/feedback/intent/labelled.jsonl")["Body"].read()
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert len(rows) == 6
    assert set(rows[0]) == {"text", "label", "created_at", "model_version"}
    assert third[0].export_uri == f"s3://{BUCKET}/data/feedback/intent/labelled.jsonl"


def test_the_export_feeds_the_pipelines_prepare_step(aws: dict[str, Any], tmp_path: Any) -> None:
    # Given an export of labelled feedback, downloaded where the processing job puts its input
    labelled(aws["store"], 3, start=0, at=NOON - timedelta(hours=2))
    exporter(aws, Sink()).run(["intent"], now=NOON, correlation_id=None)
    folder = tmp_path / "feedback"
    folder.mkdir()
    body = aws["s3"].get_object(Bucket=BUCKET, Key="data/feedback/intent/labelled.jsonl")["Body"].read()
    (folder / "labelled.jsonl").write_bytes(body)
    # When prepare reads it as it reads any feedback folder
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "model" / "pipeline" / "prepare.py"
    spec = importlib.util.spec_from_file_location("prepare", path)
    assert spec is not None
    assert spec.loader is not None
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    rows = prepare.read_feedback(folder)
    # Then every exported row is a labelled training row
    assert [(row["text"], row["label"]) for row in rows][:1] == [("where is card number 0", "card_arrival")]
    assert len(rows) == 3
