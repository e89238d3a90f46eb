"""The drift monitor on moto: DataCapture files and a baseline in S3, DriftDetected on the bus."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.eventbridge import EventBridgePublisher
from sluice.adapters.s3_baselines import S3Baselines
from sluice.adapters.s3_capture import S3DataCapture, capture_key, capture_record
from sluice.lifecycle.config import DriftPolicy
from sluice.lifecycle.drift import ConfidenceBaseline, DriftBaseline
from sluice.lifecycle.monitor import DriftMonitor, MonitoredEndpoint
from sluice_local.outputs import subscribe_queue, take_events

REGION = "us-east-1"
BUCKET = "captures"
BUS = "platform"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ENDPOINT = "sluice-intent"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("s3", "events", "sqs")}
        clients["s3"].create_bucket(Bucket=BUCKET)
        clients["events"].create_event_bus(Name=BUS)
        clients["queue"] = subscribe_queue(
            clients["sqs"],
            clients["events"],
            bus=BUS,
            name="drift",
            pattern={"detail-type": ["DriftDetected"]},
        )
        yield clients


def write_capture(
    s3: Any, *, low_share: float, variant: str = "primary", seed: int = 0, hour: int = 11
) -> None:
    """Three capture files of an hour, each line one invocation carrying two predictions (micro-batch)."""
    rng = random.Random(seed)
    for part in range(3):
        lines = []
        for i in range(50):
            when = datetime(2026, 12, 1, hour, 1 + i, part, tzinfo=UTC)
            scores = [
                rng.uniform(0.1, 0.55) if rng.random() < low_share else rng.uniform(0.65, 1.0)
                for _ in range(2)
            ]
            response = {
                "model_version": "v1",
                "predictions": [{"intents": [{"label": "card_arrival", "score": s}]} for s in scores],
            }
            request = {"instances": [{"text": "<PERSON> asks where my card is"}] * 2}
            record = capture_record(
                event_id=f"{seed}-{part}-{i}",
                inference_time=when,
                request_body=json.dumps(request).encode(),
                response_body=json.dumps(response).encode(),
            )
            lines.append(json.dumps(record))
        key = capture_key(
            "datacapture", ENDPOINT, variant, datetime(2026, 12, 1, hour, tzinfo=UTC), f"part-{seed}-{part}"
        )
        s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode())


def monitor(aws: dict[str, Any]) -> DriftMonitor:
    baselines = S3Baselines(aws["s3"], bucket=BUCKET, prefix="models/intent")
    baselines.put(
        DriftBaseline(
            model_version="v1",
            reference="test.csv",
            n_reference=3080,
            label_shares={"card_arrival": 1.0},
            confidence=ConfidenceBaseline(quantile=0.1, threshold=0.6, rate=0.1),
        )
    )
    return DriftMonitor(
        captures=S3DataCapture(aws["s3"], bucket=BUCKET, prefix="datacapture"),
        baselines=baselines,
        events=EventBridgePublisher(aws["events"], BUS),
        policy=DriftPolicy(window_minutes=60, min_window=200),
    )


def test_a_shifted_hour_of_capture_puts_drift_detected_on_the_bus(aws: dict[str, Any]) -> None:
    # Given an hour of captured answers in which 35% are below the baseline's confidence threshold
    write_capture(aws["s3"], low_share=0.35)
    # When the monitor runs at noon over the last hour
    verdicts = monitor(aws).run(
        [MonitoredEndpoint(route="intent", endpoint=ENDPOINT)], window_end=NOW, correlation_id="run-1"
    )
    # Then the window (3 files x 50 invocations x 2 predictions) drifted and the bus carries the event
    assert [(v.answers, v.outcome) for v in verdicts] == [(300, "drifted")]
    [detail] = take_events(aws["sqs"], aws["queue"], wait_seconds=0)
    assert detail["route"] == "intent"
    assert detail["variant"] == "primary"
    assert detail["method"] == "low_confidence_rate"
    assert detail["statistic"] > detail["threshold"] > 0.1
    assert detail["window_size"] == 300
    assert detail["window_start"].startswith("2026-12-01T11:00:00")
    # And nothing of the request's text reaches the event
    assert "PERSON" not in json.dumps(detail)


def test_an_in_distribution_hour_puts_nothing_on_the_bus(aws: dict[str, Any]) -> None:
    write_capture(aws["s3"], low_share=0.1)
    verdicts = monitor(aws).run(
        [MonitoredEndpoint(route="intent", endpoint=ENDPOINT)], window_end=NOW, correlation_id=None
    )
    assert [(v.answers, v.outcome) for v in verdicts] == [(300, "stable")]
    assert take_events(aws["sqs"], aws["queue"], wait_seconds=0) == []


def test_capture_of_an_earlier_hour_is_not_in_the_window(aws: dict[str, Any]) -> None:
    # Given drifted capture from 09:00 and none since
    write_capture(aws["s3"], low_share=0.9, hour=9)
    verdicts = monitor(aws).run(
        [MonitoredEndpoint(route="intent", endpoint=ENDPOINT)], window_end=NOW, correlation_id=None
    )
    assert verdicts == []


def test_the_scheduled_function_judges_the_hour_before_its_scheduled_time(aws: dict[str, Any]) -> None:
    # Given the monitor's settings as the stack renders them, and a drifted hour of capture
    from sluice.lifecycle.config import DriftPolicy as Policy
    from sluice.runtime.drift_monitor import Settings, build, run_scheduled

    write_capture(aws["s3"], low_share=0.35)
    monitor(aws)  # writes v1's baseline under models/intent
    rendered = Settings(
        service_name="sluice-drift_monitor",
        capture_bucket=BUCKET,
        capture_prefix="datacapture",
        baseline_bucket=BUCKET,
        baseline_prefix="models/intent",
        event_bus_name=BUS,
        endpoints=[MonitoredEndpoint(route="intent", endpoint=ENDPOINT)],
        policy=Policy(min_window=200),
    ).environment()
    settings = Settings.from_environment(rendered)
    # When the function runs on the schedule event of 12:00 (a retry would carry the same time)
    verdicts, _ = run_scheduled(
        {"id": "evt-1", "time": "2026-12-01T12:00:00Z", "detail-type": "Scheduled Event"},
        settings,
        build(settings),
    )
    # Then it judged 11:00-12:00 and put DriftDetected on the bus with the event id as correlation
    assert [v.outcome for v in verdicts] == ["drifted"]
    [detail] = take_events(aws["sqs"], aws["queue"], wait_seconds=0)
    assert detail["window_end"].startswith("2026-12-01T12:00:00")


def test_the_lambda_handler_wires_itself_at_init_and_reports_each_window(aws: dict[str, Any]) -> None:
    # Given the function's environment as the stack renders it, and a drifted hour of capture
    from sluice.runtime.drift_monitor import Settings
    from sluice_local.runtime import LocalContext, load_handler

    write_capture(aws["s3"], low_share=0.35)
    monitor(aws)  # writes v1's baseline under models/intent
    environment = Settings(
        service_name="sluice-drift_monitor",
        capture_bucket=BUCKET,
        baseline_bucket=BUCKET,
        baseline_prefix="models/intent",
        event_bus_name=BUS,
        endpoints=[MonitoredEndpoint(route="intent", endpoint=ENDPOINT)],
    ).environment() | {"AWS_DEFAULT_REGION": REGION}
    # When Lambda imports the handler (init) and the schedule invokes it
    _, handler = load_handler("drift_monitor", environment)
    result = handler(
        {
            "id": "evt-2",
            "time": "2026-12-01T12:00:00Z",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
        },
        LocalContext(function_name="drift_monitor", timeout_seconds=300),
    )
    # Then it answers with each window's verdict (ids and counts only) and the event is on the bus
    assert result == {
        "windows": [
            {
                "route": "intent",
                "endpoint": ENDPOINT,
                "variant": "primary",
                "model_version": "v1",
                "answers": 300,
                "outcome": "drifted",
            }
        ],
        "feedback_windows": [],
    }
    assert len(take_events(aws["sqs"], aws["queue"], wait_seconds=0)) == 1
