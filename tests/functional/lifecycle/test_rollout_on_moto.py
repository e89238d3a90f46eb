"""The rollout adapters on moto: a new model like the one in service, a config copied with one
variant swapped (capture and keys kept), packages read from the registry, the ledger, the route
table's version label. (moto has no UpdateEndpoint: tests/unit/lifecycle/test_rollout.py plays it.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.route_versions import ParameterRouteVersions
from sluice.adapters.sagemaker_rollout import S3RolloutLedger, SageMakerRollouts
from sluice.lifecycle.rollout import Rollout

ROLE = "arn:aws:iam::123456789012:role/model"
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://lifecycle/datacapture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}


@pytest.fixture
def sagemaker() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        for name in ("model-v1", "model-v1c"):
            client.create_model(
                ModelName=name,
                ExecutionRoleArn=ROLE,
                PrimaryContainer={
                    "Image": "image:1",
                    "ModelDataUrl": f"s3://models/{name}.tar.gz",
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                },
            )
        client.create_endpoint_config(
            EndpointConfigName="cfg-v1",
            ProductionVariants=[
                {
                    "VariantName": "primary",
                    "ModelName": "model-v1",
                    "InitialInstanceCount": 2,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 0.9,
                },
                {
                    "VariantName": "canary",
                    "ModelName": "model-v1c",
                    "InitialInstanceCount": 2,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 0.1,
                },
            ],
            DataCaptureConfig=CAPTURE,
            KmsKeyId="arn:aws:kms:us-east-1:123456789012:key/k",
        )
        client.create_endpoint(EndpointName="sluice-intent", EndpointConfigName="cfg-v1")
        yield client


def test_a_new_model_and_config_are_made_like_the_ones_in_service(sagemaker: Any) -> None:
    # Given the endpoint in service on cfg-v1
    rollouts = SageMakerRollouts(sagemaker)
    state = rollouts.endpoint("sluice-intent")
    # When the rollout makes v2's model from the canary's and a config with the canary on it
    rollouts.create_model_like(
        name="sluice-intent-v2",
        template_model="model-v1c",
        image="image:2",
        model_data_url="s3://runs/v2.tar.gz",
    )
    rollouts.create_config_like(
        name="cfg-v2", template_config=state.config_name, variant="canary", model_name="sluice-intent-v2"
    )
    # Then the model keeps the role and environment, and the config keeps everything but the canary's model
    model = sagemaker.describe_model(ModelName="sluice-intent-v2")
    assert model["ExecutionRoleArn"] == ROLE
    assert model["PrimaryContainer"]["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py"}
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://runs/v2.tar.gz"
    config = sagemaker.describe_endpoint_config(EndpointConfigName="cfg-v2")
    assert [
        (v["VariantName"], v["ModelName"], v["InitialVariantWeight"]) for v in config["ProductionVariants"]
    ] == [
        ("primary", "model-v1", 0.9),
        ("canary", "sluice-intent-v2", 0.1),
    ]
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == CAPTURE["DestinationS3Uri"]
    assert config["KmsKeyId"].endswith("key/k")
    assert [(v.name, v.instance_count) for v in state.variants] == [("primary", 2), ("canary", 2)]


def test_packages_are_read_from_the_registry_with_their_version_label(sagemaker: Any) -> None:
    sagemaker.create_model_package_group(ModelPackageGroupName="sluice-intent")
    for data in ("s3://runs/a.tar.gz", "s3://runs/b.tar.gz"):
        sagemaker.create_model_package(
            ModelPackageGroupName="sluice-intent",
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": "image:2", "ModelDataUrl": data}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )
    rollouts = SageMakerRollouts(sagemaker)
    listed = rollouts.packages("sluice-intent")
    newest = rollouts.package(listed[0]["ModelPackageArn"], route="intent")
    assert sorted(p["ModelPackageVersion"] for p in listed) == [1, 2]
    assert newest.model_version in ("v1", "v2")
    assert newest.model_data_url.startswith("s3://runs/")


def test_the_ledger_keeps_a_rollout_until_it_is_judged_then_its_history() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lifecycle")
        ledger = S3RolloutLedger(s3, bucket="lifecycle")
        rollout = Rollout(
            route="intent",
            endpoint="sluice-intent",
            variant="canary",
            model_version="v2",
            previous_version="v1",
            previous_config="cfg-v1",
            new_config="cfg-v2",
            model_name="m",
            model_package_arn=None,
            reason="approved",
            alarms=("a",),
            started_at=datetime(2026, 12, 2, tzinfo=UTC),
        )
        assert ledger.pending("sluice-intent") is None
        ledger.start(rollout)
        assert ledger.pending("sluice-intent") == rollout
        ledger.finish(rollout, "deployed")
        assert ledger.pending("sluice-intent") is None
        [history] = s3.list_objects_v2(Bucket="lifecycle", Prefix="rollouts/sluice-intent/history/")[
            "Contents"
        ]
        body = json.loads(s3.get_object(Bucket="lifecycle", Key=history["Key"])["Body"].read())
        assert (body["outcome"], body["model_version"]) == ("deployed", "v2")


def test_the_route_tables_version_label_changes_for_that_variant_only() -> None:
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        table = {
            "routes": {
                "intent": {
                    "variant": "primary",
                    "variants": [
                        {"name": "primary", "weight": 0.9, "model_version": "v1"},
                        {"name": "canary", "weight": 0.1, "model_version": "v1"},
                    ],
                    "other": "kept",
                }
            }
        }
        ssm.put_parameter(Name="/routes", Value=json.dumps(table), Type="String")
        versions = ParameterRouteVersions(ssm, "/routes")
        versions.set_model_version("intent", "canary", "v2")
        stored = json.loads(ssm.get_parameter(Name="/routes")["Parameter"]["Value"])
        assert [v["model_version"] for v in stored["routes"]["intent"]["variants"]] == ["v1", "v2"]
        assert stored["routes"]["intent"]["other"] == "kept"
        assert versions.model_version("intent", "canary") == "v2"


def test_a_packages_baseline_is_found_beside_its_gate_report_and_published_under_its_version(
    sagemaker: Any,
) -> None:
    from sluice.adapters.s3_baselines import S3Baselines, S3ServedModels
    from sluice.lifecycle.drift import ConfidenceBaseline, DriftBaseline

    # Given a package registered by the pipeline: its ModelQuality statistics are the gate's
    # evaluation.json, and the gate wrote the candidate's baseline beside it
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lifecycle")
    evaluation = "s3://lifecycle/runs/intent/exec-1/evaluation"
    baseline = DriftBaseline(
        model_version="banking77-minilm-lr-v2",
        reference="held-out rows",
        n_reference=100,
        label_shares={"a": 1.0},
        confidence=ConfidenceBaseline(quantile=0.1, threshold=0.6, rate=0.1),
    )
    s3.put_object(
        Bucket="lifecycle", Key="runs/intent/exec-1/evaluation/baseline.json", Body=baseline.model_dump_json()
    )
    s3.put_object(Bucket="lifecycle", Key="runs/intent/exec-1/model/model.tar.gz", Body=b"weights")
    sagemaker.create_model_package_group(ModelPackageGroupName="sluice-intent")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="sluice-intent",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {"Image": "image:2", "ModelDataUrl": "s3://lifecycle/runs/intent/exec-1/model/model.tar.gz"}
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{evaluation}/evaluation.json"}
            }
        },
    )["ModelPackageArn"]
    package = SageMakerRollouts(sagemaker).package(arn, route="intent")
    served = S3ServedModels(
        s3, bucket="lifecycle", baselines=S3Baselines(s3, bucket="lifecycle", prefix="baselines")
    )
    # When the rollout publishes its baseline and, once in service, makes it the incumbent
    assert package.baseline_uri == f"{evaluation}/baseline.json"
    assert served.publish_baseline(package.baseline_uri) == "banking77-minilm-lr-v2"
    served.set_incumbent("intent", package.model_data_url)
    # Then the monitor finds it under the model's own version, and the pipeline's default
    # incumbent location holds the artifact
    assert (
        S3Baselines(s3, bucket="lifecycle", prefix="baselines").baseline("banking77-minilm-lr-v2") == baseline
    )
    incumbent = s3.get_object(Bucket="lifecycle", Key="models/intent/current/model.tar.gz")["Body"].read()
    assert incumbent == b"weights"
    # And a package whose evaluation holds no baseline, or something else, or that lives where
    # the function cannot read, rolls out without one (the rollout logs and counts it)
    s3.put_object(Bucket="lifecycle", Key="runs/intent/exec-2/evaluation/baseline.json", Body=b"{}")
    for missing in (
        "s3://lifecycle/runs/intent/exec-0/evaluation/baseline.json",
        "s3://lifecycle/runs/intent/exec-2/evaluation/baseline.json",
        "s3://another-bucket/baseline.json",
        "not-an-s3-uri",
    ):
        assert served.publish_baseline(missing) is None, missing
