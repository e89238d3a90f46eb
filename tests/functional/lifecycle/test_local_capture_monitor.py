"""The local endpoint's capture, read by the drift monitor exactly as deployed: the router of the
local platform (sluice_local.variant_endpoint) behind the capture middleware writes to an S3
bucket on moto; the monitor's own adapter and the `drift_monitor` handler read it back.

Capture format and layout: https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from starlette.testclient import TestClient

from sluice.adapters.eventbridge import EventBridgePublisher
from sluice.adapters.s3_baselines import S3Baselines
from sluice.adapters.s3_capture import S3DataCapture
from sluice.lifecycle.config import DriftPolicy
from sluice.lifecycle.drift import ConfidenceBaseline, DriftBaseline
from sluice.lifecycle.monitor import DriftMonitor, MonitoredEndpoint
from sluice_local.capture import CAPTURE_PREFIX, CaptureMiddleware, CaptureSpec, CaptureWriter
from sluice_local.outputs import subscribe_queue, take_events
from sluice_local.variant_endpoint import EndpointSpec, Spec, VariantSpec, build_router

HANDLER = Path(__file__).with_name("intent_like_handler.py")
BUCKET = "sluice-local-lifecycle"
BUS = "sluice-local-events"
ENDPOINT = "sluice-local-intent"
REGION = "us-east-1"


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
        S3Baselines(clients["s3"], bucket=BUCKET, prefix="baselines").put(
            DriftBaseline(
                model_version="v1",
                reference="test.csv",
                n_reference=3080,
                label_shares={"card_arrival": 1.0},
                confidence=ConfidenceBaseline(quantile=0.1, threshold=0.5, rate=0.1),
            )
        )
        yield clients


def serve_traffic(
    aws: dict[str, Any], tmp_path: Path, *, requests: int, unseen_share: float
) -> CaptureWriter:
    """`requests` invocations through the local endpoint's router with capture on, then a flush."""
    (tmp_path / "v1").mkdir(exist_ok=True)
    spec = Spec(
        endpoints=[
            EndpointSpec(
                name=ENDPOINT,
                variants=[VariantSpec(name="primary", handler=HANDLER, model_dir=tmp_path / "v1")],
            )
        ]
    )
    writer = CaptureWriter(aws["s3"].put_object, CaptureSpec(bucket=BUCKET, endpoints=[ENDPOINT]))
    with TestClient(CaptureMiddleware(build_router(spec), writer, [ENDPOINT])) as client:
        for n in range(requests):
            unseen = n % 10 < round(unseen_share * 10)
            text = "an unseen intent <PERSON>" if unseen else "where is my card"
            answer = client.post(
                f"/endpoints/{ENDPOINT}/invocations",
                content=json.dumps({"instances": [{"text": text}]}),
                headers={"content-type": "application/json"},
            )
            assert answer.status_code == 200
    writer.stop()
    return writer


def monitor(aws: dict[str, Any]) -> DriftMonitor:
    return DriftMonitor(
        captures=S3DataCapture(aws["s3"], bucket=BUCKET, prefix=CAPTURE_PREFIX),
        baselines=S3Baselines(aws["s3"], bucket=BUCKET, prefix="baselines"),
        events=EventBridgePublisher(aws["events"], BUS),
        policy=DriftPolicy(),
    )


def window_end() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)


def test_capture_of_shifted_local_traffic_fires_drift_detected(aws: dict[str, Any], tmp_path: Path) -> None:
    # Given 250 invocations of the local endpoint, 40% of them of an intent the model does not know
    writer = serve_traffic(aws, tmp_path, requests=250, unseen_share=0.4)
    # When the monitor judges the hour that ends now, from the capture in the lifecycle bucket
    verdicts = monitor(aws).run(
        [MonitoredEndpoint(route="intent", endpoint=ENDPOINT)], window_end=window_end(), correlation_id="t"
    )
    # Then every invocation was captured, grouped by variant and version, and the window drifted
    assert writer.written == 250
    assert [(v.variant, v.model_version, v.answers, v.outcome) for v in verdicts] == [
        ("primary", "v1", 250, "drifted")
    ]
    [detail] = take_events(aws["sqs"], aws["queue"], wait_seconds=0)
    assert detail["statistic"] == pytest.approx(0.4)
    assert detail["window_size"] == 250
    # And the event carries figures, never the captured (redacted) text
    assert "PERSON" not in json.dumps(detail)


def test_capture_of_in_distribution_local_traffic_is_stable(aws: dict[str, Any], tmp_path: Path) -> None:
    serve_traffic(aws, tmp_path, requests=250, unseen_share=0.1)
    verdicts = monitor(aws).run(
        [MonitoredEndpoint(route="intent", endpoint=ENDPOINT)], window_end=window_end(), correlation_id=None
    )
    assert [(v.answers, v.outcome) for v in verdicts] == [(250, "stable")]
    assert take_events(aws["sqs"], aws["queue"], wait_seconds=0) == []


def test_the_drift_monitor_function_reads_the_local_capture(aws: dict[str, Any], tmp_path: Path) -> None:
    # Given shifted local traffic captured, and the function's environment as the stack renders it
    from sluice.runtime.drift_monitor import Settings
    from sluice_local.runtime import LocalContext, load_handler

    serve_traffic(aws, tmp_path, requests=220, unseen_share=0.5)
    environment = Settings(
        service_name="sluice-drift_monitor",
        capture_bucket=BUCKET,
        capture_prefix=CAPTURE_PREFIX,
        baseline_bucket=BUCKET,
        baseline_prefix="baselines",
        event_bus_name=BUS,
        endpoints=[MonitoredEndpoint(route="intent", endpoint=ENDPOINT)],
    ).environment() | {"AWS_DEFAULT_REGION": REGION}
    # When the schedule invokes the real handler
    _, handler = load_handler("drift_monitor", environment)
    result = handler(
        {"id": "evt-1", "time": window_end().strftime("%Y-%m-%dT%H:%M:%SZ"), "source": "aws.events"},
        LocalContext(function_name="drift_monitor", timeout_seconds=300),
    )
    # Then it judged the captured window and put DriftDetected on the bus
    assert [(w["answers"], w["outcome"]) for w in result["windows"]] == [(220, "drifted")]
    assert len(take_events(aws["sqs"], aws["queue"], wait_seconds=0)) == 1


def test_the_local_platform_publishes_its_served_models_baseline_as_the_stack_seeds_it(
    tmp_path: Path,
) -> None:
    from sluice_local.capture import provision_lifecycle_bucket

    # Given the model the platform serves, with the baseline training wrote beside it
    served = DriftBaseline(
        model_version="banking77-minilm-lr-served",
        reference="test.csv",
        n_reference=3080,
        label_shares={"card_arrival": 1.0},
        confidence=ConfidenceBaseline(quantile=0.1, threshold=0.5, rate=0.1),
    )
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "baseline.json").write_text(served.model_dump_json())
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        # When the platform provisions its lifecycle bucket (at every start)
        bucket = provision_lifecycle_bucket(s3, BUCKET, served_model=tmp_path / "model")
        # Then the monitor finds a baseline for the version the endpoint answers with
        assert S3Baselines(s3, bucket=bucket, prefix="baselines").baseline(served.model_version) == served
