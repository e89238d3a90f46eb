"""The retraining pipeline's definition, written with the `sagemaker` SDK (v3) at synth, no AWS call.

prepare data -> train (model/train.py) -> evaluate on the golden set (the gate) -> condition ->
register the model package (metrics, dataset hash, code version) | fail with the gate's report.

SDK v3 does AWS work by default where a definition needs none: importing `sagemaker.mlops` builds a
boto3 client (credential lookup can reach the instance metadata service), ModelTrainer checks its
role with iam:SimulatePrincipalPolicy and, given `source_code`, uploads driver scripts and resolves
a default bucket. So the definition is built with metadata lookups and role validation switched off
(restored afterwards), every S3 location given explicitly, and the training code handed over the
way SageMaker's framework containers take it (`sagemaker_program` / `sagemaker_submit_directory`),
which the SDK passes through untouched. `tests/infra/test_lifecycle_pipeline.py` builds it with
sockets refused.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from infra.aws_rules import has_instance_storage

# The inert settings the SDK is built under: a region for the clients it creates on import, no
# metadata-service credential lookup, no IAM role simulation.
_SYNTH_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}
PROCESSING = "/opt/ml/processing"
PIPELINE_STEPS = (
    "PrepareData",
    "Train",
    "EvaluateOnGolden",
    "GateApproved",
    "RegisterCandidate",
    "GateRejected",
)


@dataclass(frozen=True)
class PipelineSpec:
    """Everything the definition names; in the stack these are CloudFormation tokens."""

    name: str
    role_arn: str
    processing_image: str
    training_image: str
    inference_image: str
    source_uri: str  # sourcedir.tar.gz: model/ with pipeline/, golden/ and the gate
    bootstrap_uri: str  # model/pipeline/bootstrap.py, the processing steps' entry point
    artifacts_uri: str  # s3://bucket/prefix for every run's outputs
    base_data_uri: str
    feedback_uri: str
    incumbent_model_uri: str
    model_package_group: str
    kms_key_arn: str
    code_version: str
    training_instance_type: str = "ml.g5.xlarge"
    processing_instance_type: str = "ml.m5.xlarge"
    inference_instance_type: str = "ml.g5.xlarge"


@contextmanager
def _inert_sdk() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in _SYNTH_ENVIRONMENT}
    os.environ.update({name: saved[name] or value for name, value in _SYNTH_ENVIRONMENT.items()})
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    # Its notices ("popping out ProcessingJobName", "no job being started") are about running jobs,
    # which a definition never does; synth output stays the stack's.
    sdk_logger = logging.getLogger("sagemaker")
    level = sdk_logger.level
    sdk_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sdk_logger.setLevel(level)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pipeline_definition(spec: PipelineSpec) -> dict[str, Any]:
    """The pipeline definition document (what CreatePipeline takes as PipelineDefinition)."""
    with _inert_sdk():
        return json.loads(_build(spec).definition())


def _build(spec: PipelineSpec) -> Any:
    import boto3
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train.model_trainer import ModelTrainer

    # The bucket is never used: every location below is explicit, so nothing is created or listed.
    session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="unused")
    base_data = ParameterString("BaseDataUri", default_value=spec.base_data_uri)
    feedback = ParameterString("FeedbackUri", default_value=spec.feedback_uri)
    incumbent = ParameterString("IncumbentModelUri", default_value=spec.incumbent_model_uri)
    artifacts = ParameterString("ArtifactsUri", default_value=spec.artifacts_uri)
    code_version = ParameterString("CodeVersion", default_value=spec.code_version)
    approval = ParameterString("ApprovalStatus", default_value="Approved")
    latency_budget = ParameterString("LatencyBudgetMs", default_value="1000")
    parameters = [
        base_data,
        feedback,
        incumbent,
        artifacts,
        code_version,
        approval,
        latency_budget,
    ]

    def run_uri(name: str) -> Any:
        return Join(on="/", values=[artifacts, ExecutionVariables.PIPELINE_EXECUTION_ID, name])

    def s3_input(name: str, uri: Any) -> ProcessingInput:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri,
                local_path=f"{PROCESSING}/input/{name}",
                s3_data_type="S3Prefix",
                s3_input_mode="File",
            ),
        )

    def s3_output(name: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=run_uri(name), local_path=f"{PROCESSING}/output/{name}", s3_upload_mode="EndOfJob"
            ),
        )

    def processor(job: str) -> ScriptProcessor:
        return ScriptProcessor(
            image_uri=spec.processing_image,
            command=["python3"],
            role=spec.role_arn,
            instance_type=spec.processing_instance_type,
            instance_count=1,
            base_job_name=f"sluice-{job}",
            output_kms_key=spec.kms_key_arn,
            volume_kms_key=spec.kms_key_arn,
            sagemaker_session=session,
        )

    prepare = ProcessingStep(
        name="PrepareData",
        description="training rows + labelled feedback: filtered, de-duplicated, golden rows removed, hashed",
        step_args=processor("prepare").run(
            code=spec.bootstrap_uri,
            arguments=["prepare"],
            inputs=[
                s3_input("source", spec.source_uri),
                s3_input("base", base_data),
                s3_input("feedback", feedback),
            ],
            outputs=[s3_output("train"), s3_output("test"), s3_output("manifest")],
        ),
        property_files=[PropertyFile(name="Manifest", output_name="manifest", path="manifest.json")],
    )
    manifest = prepare.property_files[0]

    outputs = prepare.properties.ProcessingOutputConfig.Outputs
    trainer = ModelTrainer(
        training_image=spec.training_image,
        role=spec.role_arn,
        # "You can't request a VolumeKmsKeyId when using an instance type with local storage"
        # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html): the
        # NVMe disks of g5 and the like are encrypted by the hardware. Hence no run-time
        # instance-type parameter: the type is the config's, checked here at synth.
        compute=Compute(
            instance_type=spec.training_instance_type,
            instance_count=1,
            volume_kms_key_id=None if has_instance_storage(spec.training_instance_type) else spec.kms_key_arn,
        ),
        base_job_name="sluice-train",
        # The framework container's script mode: it downloads and unpacks the tarball, runs train.py.
        hyperparameters={
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": spec.source_uri,
        },
        output_data_config=OutputDataConfig(s3_output_path=run_uri("model"), kms_key_id=spec.kms_key_arn),
        sagemaker_session=session,
    )
    train = TrainingStep(
        name="Train",
        description="model/train.py on the prepared rows (it writes baseline.json beside the model)",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name="train", data_source=outputs["train"].S3Output.S3Uri),
                InputData(channel_name="test", data_source=outputs["test"].S3Output.S3Uri),
            ]
        ),
    )
    candidate_artifact = train.properties.ModelArtifacts.S3ModelArtifacts

    evaluation_file = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="EvaluateOnGolden",
        description="candidate and model in service on the golden set; the gate's verdict and report",
        step_args=processor("evaluate").run(
            code=spec.bootstrap_uri,
            arguments=["evaluate", "--latency-budget-ms", latency_budget],
            inputs=[
                s3_input("source", spec.source_uri),
                s3_input("candidate", candidate_artifact),
                s3_input("incumbent", incumbent),
            ],
            outputs=[s3_output("evaluation")],
        ),
        property_files=[evaluation_file],
    )
    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri

    model = ModelBuilder(
        image_uri=spec.inference_image,
        s3_model_data_url=candidate_artifact,
        role_arn=spec.role_arn,
        # Its default ({"auto": True}) stages code to a default bucket; the artifact carries its code.
        dependencies={},
        sagemaker_session=session,
    )
    register = ModelStep(
        name="RegisterCandidate",
        step_args=model.register(
            model_package_group_name=spec.model_package_group,
            content_types=["application/json"],
            response_types=["application/json"],
            inference_instances=[spec.inference_instance_type],
            approval_status=approval,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]),
                    content_type="application/json",
                )
            ),
            customer_metadata_properties={
                "dataset_hash": JsonGet(
                    step_name=prepare.name, property_file=manifest, json_path="dataset_hash"
                ),
                "code_version": code_version,
                # CustomerMetadataProperties is a map of strings: the number joined into one
                # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html).
                "golden_accuracy": Join(
                    on="",
                    values=[
                        JsonGet(
                            step_name=evaluate.name,
                            property_file=evaluation_file,
                            json_path="metrics.golden_accuracy.value",
                        )
                    ],
                ),
            },
        ),
    )
    rejected = FailStep(
        name="GateRejected",
        error_message=Join(
            on=" ", values=["golden-query gate rejected the candidate; report:", evaluation_uri]
        ),
    )
    gate = ConditionStep(
        name="GateApproved",
        conditions=[
            ConditionEquals(
                left=JsonGet(step_name=evaluate.name, property_file=evaluation_file, json_path="approved"),
                right=1,
            )
        ],
        if_steps=[register],
        else_steps=[rejected],
    )
    return Pipeline(
        name=spec.name,
        parameters=parameters,
        steps=[prepare, train, evaluate, gate],
        # The SDK's default makes every execution create an experiment, a run group and runs, which
        # needs sagemaker:CreateExperiment and more that the execution role has no use for
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-experiments.html).
        pipeline_experiment_config=None,
        sagemaker_session=session,
    )
