"""The retraining pipeline's definition (built with sockets refused), and the lifecycle in the template:
the pipeline, its rules' event patterns and targets, the starter role's conditions, the drift monitor."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.lifecycle_code import SOURCE_FILES, build_source_tarball
from infra.lifecycle_pipeline import PIPELINE_STEPS, PipelineSpec, pipeline_definition
from sluice.runtime.drift_monitor import Settings as DriftMonitorSettings

SPEC = PipelineSpec(
    name="sluice-retrain-intent",
    role_arn="arn:aws:iam::123456789012:role/pipeline",
    processing_image="training-image",
    training_image="training-image",
    inference_image="inference-image",
    source_uri="s3://assets/sourcedir.tar.gz",
    bootstrap_uri="s3://assets/bootstrap.py",
    artifacts_uri="s3://lifecycle/runs/intent",
    base_data_uri="s3://lifecycle/data/base/intent",
    feedback_uri="s3://lifecycle/data/feedback/intent",
    incumbent_model_uri="s3://lifecycle/models/intent/current",
    model_package_group="sluice-intent",
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
    code_version="0123abcd",
)


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    # Given no network at all: any connection the SDK tried would fail the build
    original = socket.socket.connect

    def refuse(*_: Any, **__: Any) -> None:
        raise RuntimeError("the pipeline definition must be built without a network call")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        return pipeline_definition(SPEC)
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


def steps_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found[step["Name"]] = step
            walk(step.get("Arguments", {}).get("IfSteps", []))
            walk(step.get("Arguments", {}).get("ElseSteps", []))

    walk(definition["Steps"])
    return found


class TestPipelineDefinition:
    def test_has_the_steps_in_order_with_their_types(self, definition: dict[str, Any]) -> None:
        steps = steps_by_name(definition)
        assert list(steps) == list(PIPELINE_STEPS)
        assert [steps[name]["Type"] for name in PIPELINE_STEPS] == [
            "Processing",
            "Training",
            "Processing",
            "Condition",
            "RegisterModel",
            "Fail",
        ]

    def test_has_the_parameters_a_start_can_override(self, definition: dict[str, Any]) -> None:
        parameters = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        assert parameters == {
            "BaseDataUri": "s3://lifecycle/data/base/intent",
            "FeedbackUri": "s3://lifecycle/data/feedback/intent",
            "IncumbentModelUri": "s3://lifecycle/models/intent/current",
            "ArtifactsUri": "s3://lifecycle/runs/intent",
            "CodeVersion": "0123abcd",
            "ApprovalStatus": "Approved",
            "LatencyBudgetMs": "1000",
        }

    def test_training_runs_model_train_py_on_the_prepared_rows(self, definition: dict[str, Any]) -> None:
        train = steps_by_name(definition)["Train"]["Arguments"]
        assert train["HyperParameters"] == {
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": "s3://assets/sourcedir.tar.gz",
        }
        channels = {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]
        }
        assert channels == {
            "train": {"Get": "Steps.PrepareData.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
            "test": {"Get": "Steps.PrepareData.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
        }
        assert train["OutputDataConfig"]["KmsKeyId"] == SPEC.kms_key_arn
        assert train["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"

    @pytest.mark.parametrize(("instance_type", "keyed"), [("ml.g5.xlarge", False), ("ml.m5.xlarge", True)])
    def test_the_training_volume_takes_the_key_only_where_aws_accepts_one(
        self, instance_type: str, keyed: bool
    ) -> None:
        # "You can't request a VolumeKmsKeyId when using an instance type with local storage"
        # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html)
        from dataclasses import replace

        definition = pipeline_definition(replace(SPEC, training_instance_type=instance_type))
        resources = steps_by_name(definition)["Train"]["Arguments"]["ResourceConfig"]
        assert resources["InstanceType"] == instance_type
        assert resources.get("VolumeKmsKeyId") == (SPEC.kms_key_arn if keyed else None)

    def test_evaluation_scores_the_candidate_and_the_incumbent(self, definition: dict[str, Any]) -> None:
        evaluate = steps_by_name(definition)["EvaluateOnGolden"]
        arguments = evaluate["Arguments"]
        assert arguments["AppSpecification"]["ContainerArguments"][0] == "evaluate"
        inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in arguments["ProcessingInputs"]}
        assert inputs["candidate"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
        assert inputs["incumbent"] == {"Get": "Parameters.IncumbentModelUri"}
        assert evaluate["PropertyFiles"] == [
            {"PropertyFileName": "Evaluation", "OutputName": "evaluation", "FilePath": "evaluation.json"}
        ]

    def test_the_condition_registers_only_what_the_gate_approved(self, definition: dict[str, Any]) -> None:
        steps = steps_by_name(definition)
        [condition] = steps["GateApproved"]["Arguments"]["Conditions"]
        assert condition == {
            "Type": "Equals",
            "LeftValue": {
                "Std:JsonGet": {
                    "PropertyFile": {"Get": "Steps.EvaluateOnGolden.PropertyFiles.Evaluation"},
                    "Path": "approved",
                }
            },
            "RightValue": 1,
        }
        register = steps["RegisterCandidate"]["Arguments"]
        assert register["ModelPackageGroupName"] == "sluice-intent"
        assert register["ModelApprovalStatus"] == {"Get": "Parameters.ApprovalStatus"}
        metadata = register["CustomerMetadataProperties"]
        assert metadata["dataset_hash"]["Std:JsonGet"]["Path"] == "dataset_hash"
        assert metadata["code_version"] == {"Get": "Parameters.CodeVersion"}
        assert register["ModelMetrics"]["ModelQuality"]["Statistics"]["ContentType"] == "application/json"
        assert register["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == {
            "Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"
        }
        assert "golden-query gate rejected" in json.dumps(steps["GateRejected"]["Arguments"]["ErrorMessage"])


def test_the_source_tarball_is_reproducible_and_carries_every_step(tmp_path: Any) -> None:
    import tarfile

    first, digest = build_source_tarball(tmp_path / "a")
    _, again = build_source_tarball(tmp_path / "b")
    assert digest == again
    with tarfile.open(first) as archive:
        assert sorted(archive.getnames()) == sorted(SOURCE_FILES)


class TestLifecycleInTheTemplate:
    def test_the_pipeline_is_deployed_with_its_definition(self, template: Template) -> None:
        [pipeline] = template.find_resources("AWS::SageMaker::Pipeline").values()
        body = json.dumps(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
        for step in PIPELINE_STEPS:
            assert f'\\"Name\\": \\"{step}\\"' in body, step
        template.resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)

    def test_drift_detected_on_the_route_starts_the_pipeline(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::Events::Rule",
            {
                "EventPattern": {
                    "source": ["sluice"],
                    "detail-type": ["DriftDetected"],
                    "detail": {"detail": {"route": ["intent"]}},
                },
                "EventBusName": Match.any_value(),
                "Targets": [
                    Match.object_like(
                        {
                            "Arn": Match.any_value(),
                            "RoleArn": Match.any_value(),
                            "SageMakerPipelineParameters": {
                                "PipelineParameterList": [{"Name": "ApprovalStatus", "Value": "Approved"}]
                            },
                        }
                    )
                ],
            },
        )

    def test_a_schedule_starts_the_pipeline_too(self, template: Template) -> None:
        rules = template.find_resources(
            "AWS::Events::Rule", {"Properties": {"ScheduleExpression": "cron(0 3 ? * SUN *)"}}
        )
        [rule] = rules.values()
        [target] = rule["Properties"]["Targets"]
        assert "SageMakerPipelineParameters" in target
        assert ":pipeline/" in json.dumps(target["Arn"])

    def test_only_eventbridge_rules_of_this_account_may_start_it(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::IAM::Role",
            {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        Match.object_like(
                            {
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                    "ArnLike": {"aws:SourceArn": Match.any_value()},
                                },
                            }
                        )
                    ]
                },
                "Description": Match.string_like_regexp("EventBridge starts"),
            },
        )

    def test_the_drift_monitor_runs_on_a_schedule_with_its_settings(self, template: Template) -> None:
        functions = template.find_resources(
            "AWS::Lambda::Function",
            {"Properties": {"Description": Match.string_like_regexp("drift monitor")}},
        )
        [monitor] = functions.values()
        variables = set(monitor["Properties"]["Environment"]["Variables"])
        assert (
            DriftMonitorSettings.variables() - {"CAPTURE_PREFIX", "BASELINE_PREFIX", "DRIFT_POLICY"}
            <= variables
        )
        template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)"})

    def test_the_real_time_endpoint_captures_requests_and_answers_as_json_with_kms(
        self, template: Template
    ) -> None:
        # SageMaker writes JSON bodies as text only for the content types listed here, and with the
        # model's role: https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html
        template.has_resource_properties(
            "AWS::SageMaker::EndpointConfig",
            {
                "DataCaptureConfig": {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": Match.any_value(),
                    "KmsKeyId": Match.any_value(),
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
                }
            },
        )
        [config] = template.find_resources(
            "AWS::SageMaker::EndpointConfig", {"Properties": {"DataCaptureConfig": Match.any_value()}}
        ).values()
        assert "/datacapture" in json.dumps(config["Properties"]["DataCaptureConfig"]["DestinationS3Uri"])

    def test_rule_targets_pass_only_parameters_the_pipeline_defines(self, template: Template) -> None:
        # StartPipelineExecution rejects a parameter the pipeline does not declare, at run time, when the
        # rule fires; no linter reads the definition body. https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StartPipelineExecution.html
        [pipeline] = template.find_resources("AWS::SageMaker::Pipeline").values()
        body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
        text = (
            body if isinstance(body, str) else "".join(p for p in body["Fn::Join"][1] if isinstance(p, str))
        )
        declared = set(re.findall(r'"Name": "(\w+)", "Type": "String"', text))
        assert {"ApprovalStatus", "BaseDataUri", "IncumbentModelUri"} <= declared
        for rule in template.find_resources("AWS::Events::Rule").values():
            for target in rule["Properties"].get("Targets", []):
                for parameter in target.get("SageMakerPipelineParameters", {}).get(
                    "PipelineParameterList", []
                ):
                    assert parameter["Name"] in declared

    def test_the_definition_fits_createpipelines_limit(self, template: Template) -> None:
        # PipelineDefinition is at most 1,048,576 characters:
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreatePipeline.html
        [pipeline] = template.find_resources("AWS::SageMaker::Pipeline").values()
        assert len(json.dumps(pipeline["Properties"]["PipelineDefinition"])) < 1_048_576 // 2
