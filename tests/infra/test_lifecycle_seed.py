"""The lifecycle bucket holds, from the first deploy, what the first retraining and the first drift
window read; and the deploy function may keep it current. Without the seed, the pipeline's
incumbent input would be an empty prefix (a processing job fails on an S3 input with no object)
and the monitor would find no baseline for the version the endpoint starts with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.lifecycle_layout import BASELINE_PREFIX, incumbent_key
from infra.lifecycle_seed import check_single_copy, served_model_version


def copies(template: Template) -> dict[str, dict[str, Any]]:
    """Each seed copy's destination key -> its resource's properties (Create as parsed JSON)."""
    found = {}
    for resource in template.find_resources("Custom::AWS").values():
        create = resource["Properties"]["Create"]
        # Create is a Fn::Join of literal parts and tokens: the key is a literal.
        text = "".join(part if isinstance(part, str) else json.dumps(part) for part in create["Fn::Join"][1])
        if '"action":"copyObject"' not in text:
            continue
        key = text.split('"Key":"', 1)[1].split('"', 1)[0]
        found[key] = {"create": text, "update": resource["Properties"].get("Update"), "raw": create}
    return found


def seed_policy(template: Template) -> list[dict[str, Any]]:
    [policy] = [
        resource
        for name, resource in template.find_resources("AWS::IAM::Policy").items()
        if name.startswith("LifecycleSeedRole")
    ]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_seed_fills_every_location_the_pipeline_and_the_monitor_read(template: Template) -> None:
    # The pipeline's defaults (BaseDataUri, IncumbentModelUri) and the monitor's baseline key
    from sluice.adapters.s3_baselines import S3Baselines, S3ServedModels

    version = served_model_version()
    assert set(copies(template)) == {
        "data/base/intent/train.csv",
        "data/base/intent/test.csv",
        "data/base/intent/categories.json",
        "data/feedback/intent/no-feedback-yet.jsonl",  # the feedback input is never an empty prefix
        incumbent_key("intent"),
        f"{BASELINE_PREFIX}/{version}/baseline.json",
    }
    # The deploy function's adapters write where the seed wrote (one layout)
    assert (
        S3Baselines(None, bucket="b", prefix=BASELINE_PREFIX).key(version)
        == f"baselines/{version}/baseline.json"
    )
    assert S3ServedModels(None, bucket="b", baselines=None).incumbent_key("intent") == incumbent_key("intent")  # type: ignore[arg-type]
    [pipeline] = template.find_resources("AWS::SageMaker::Pipeline").values()
    body = json.dumps(pipeline["Properties"]["PipelineDefinition"])
    assert "/data/base/intent" in body
    assert "/models/intent/current" in body


def test_the_first_incumbent_is_the_artifact_the_endpoint_serves(template: Template) -> None:
    [model] = [
        resource
        for name, resource in template.find_resources("AWS::SageMaker::Model").items()
        if name.startswith("Modelintent")
    ]
    served = json.dumps(model["Properties"]["PrimaryContainer"]["ModelDataUrl"])
    asset_key = served.rsplit("/", 1)[1].split('"', 1)[0]  # <hash>.tar.gz or <hash>.zip
    assert f"/{asset_key}" in copies(template)[incumbent_key("intent")]["create"]


def test_a_copy_is_made_again_only_when_its_source_changes(template: Template) -> None:
    # AwsCustomResource calls onUpdate when the resource's properties change; the source's key is
    # its content hash, so a redeploy with the same model never copies an older version over one
    # a rollout promoted.
    for key, copy in copies(template).items():
        assert copy["update"] == copy["raw"], key
        resource_id = copy["create"].split('"physicalResourceId":{"id":"', 1)[1].split('"}', 1)[0]
        assert resource_id.startswith(f"{key}@"), key


def test_the_copier_may_read_each_source_and_write_each_destination_and_no_more(template: Template) -> None:
    # CopyObject: "you must have read access to the source object and write access to the
    # destination bucket" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html);
    # into an SSE-KMS bucket it also needs kms:GenerateDataKey, and kms:Decrypt for a copy in parts
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
    statements = seed_policy(template)
    reads = next(s for s in statements if "s3:GetObject*" in s["Action"])
    writes = next(s for s in statements if "s3:PutObject" in s["Action"])
    kms_actions = {a for s in statements for a in s["Action"] if a.startswith("kms:")}
    written = sorted(
        json.dumps(resource).split('"/', 1)[1].split('"', 1)[0] for resource in writes["Resource"]
    )
    assert written == sorted(copies(template))
    for copy in copies(template).values():
        # "CopySource":"<the assets bucket, a token>/<the asset's key>"
        source_key = copy["create"].split('"CopySource":', 1)[1].split("}/", 1)[1].split('"', 1)[0]
        assert any(source_key in json.dumps(resource) for resource in reads["Resource"]), source_key
    assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= kms_actions
    assert not any(a == "*" or a.endswith(":*") for s in statements for a in s["Action"])


def test_the_function_that_makes_the_copies_runs_with_the_copiers_role(template: Template) -> None:
    # AwsCustomResource runs every call of the stack in one function, with the role of the first
    # one made (aws/aws-cdk#32533): that must be the role granted above, or the copies are denied.
    roles = {
        json.dumps(resource["Properties"]["Role"])
        for resource in template.find_resources("AWS::Lambda::Function").values()
        if resource["Properties"].get("Handler") == "index.handler"
        and "LifecycleSeed" in json.dumps(resource["Properties"].get("LoggingConfig", {}))
    }
    [role] = roles
    assert "LifecycleSeedRole" in role
    providers = [
        resource
        for resource in template.find_resources("Custom::AWS").values()
        if "copyObject" in json.dumps(resource["Properties"]["Create"])
    ]
    [service_token] = {json.dumps(resource["Properties"]["ServiceToken"]) for resource in providers}
    [function_id] = [
        name
        for name, resource in template.find_resources("AWS::Lambda::Function").items()
        if json.dumps(resource["Properties"]["Role"]) == role
    ]
    assert function_id in service_token


def test_the_deploy_function_may_keep_the_baselines_and_the_incumbent_current(template: Template) -> None:
    [policy] = [
        resource
        for name, resource in template.find_resources("AWS::IAM::Policy").items()
        if name.startswith("LifecycleRolloutFunctionRole")
    ]
    text = json.dumps(policy["Properties"]["PolicyDocument"])
    for prefix in ("/baselines/*", "/models/*", "/runs/*"):
        assert prefix in text, prefix


def test_an_object_one_copy_cannot_move_is_refused_at_synth(tmp_path: Path) -> None:
    artifact = tmp_path / "model"
    artifact.mkdir()
    (artifact / "weights.bin").write_bytes(b"x" * 2048)
    assert check_single_copy(artifact, limit=4096) == 2048
    with pytest.raises(ValueError, match="at most"):
        check_single_copy(artifact, limit=1024)
