"""Model lifecycle, per monitored route: the drift monitor on a schedule, the retraining pipeline
(SageMaker Pipelines, defined with the `sagemaker` SDK at synth), its model package group, and the
EventBridge rules that start it on `DriftDetected` and on a schedule.

One KMS-encrypted bucket holds the lifecycle's data (its layout: `infra/lifecycle_layout.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.buckets import access_log_bucket, data_bucket
from infra.functions import SluiceFunction
from infra.images import regional_image
from infra.lifecycle_code import build_source_tarball
from infra.lifecycle_feedback import FeedbackTable
from infra.lifecycle_layout import (
    BASE_DATA_PREFIX,
    BASELINE_PREFIX,
    CAPTURE_PREFIX,
    FEEDBACK_PREFIX,
    MODELS_PREFIX,
    RUNS_PREFIX,
)
from infra.lifecycle_pipeline import PipelineSpec, pipeline_definition
from infra.lifecycle_rollout import ModelRollout
from infra.lifecycle_seed import LifecycleSeed, SeededRoute
from infra.model_endpoint import ModelEndpoint
from infra.nag import acknowledge
from sluice.config import DeploymentConfig, FunctionConfig, RouteConfig
from sluice.lifecycle.monitor import MonitoredEndpoint
from sluice.runtime.drift_monitor import Settings as DriftMonitorSettings
from sluice.runtime.feedback_export import Settings as FeedbackExportSettings

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".build" / "lifecycle"
MONITOR_FUNCTION = FunctionConfig(memory_mb=512, timeout_seconds=300)
# The wildcard actions of CDK's own bucket and key grants.
CDK_GRANT_FINDINGS = {
    f"Action::{action}": "CDK's bucket and key grant (object-level actions, scoped to the resource)"
    for action in (
        "s3:GetBucket*",
        "s3:GetObject*",
        "s3:List*",
        "s3:Abort*",
        "s3:DeleteObject*",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    )
}


class _Placeholders:
    """Stand-ins for CDK tokens while the SDK builds the definition, swapped back in its JSON."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._whole: set[str] = set()

    def add(self, value: str, *, whole: bool = False) -> str:
        """A placeholder for `value`; `whole` replaces the ARN around the placeholder as well."""
        placeholder = f"sluiceplaceholder{len(self._values):03d}x"
        self._values[placeholder] = value
        if whole:
            self._whole.add(placeholder)
        return placeholder

    def resolve(self, text: str) -> str:
        for placeholder, value in self._values.items():
            if placeholder in self._whole:
                prefix = (
                    "arn:aws:iam::000000000000:role/"
                    if f"role/{placeholder}" in text
                    else "arn:aws:kms:us-east-1:000000000000:key/"
                )
                text = text.replace(prefix + placeholder, value)
            text = text.replace(placeholder, value)
        return text


class LifecycleData(Construct):
    """The lifecycle's bucket, with its own access-log bucket."""

    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = access_log_bucket(self, retention_days=90, removal_policy=removal_policy)
        self.bucket = data_bucket(
            self,
            key=key,
            access_logs=access_logs,
            access_log_prefix="lifecycle/",
            # Model artifacts and baselines are records: an overwrite keeps the old version.
            versioned=True,
            lifecycle_rules=[
                # Captured traffic is redacted, but it is still traffic: a month covers every window.
                s3.LifecycleRule(prefix=f"{CAPTURE_PREFIX}/", expiration=Duration.days(30)),
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90)),
            ],
            removal_policy=removal_policy,
        )


class RetrainingPipeline(Construct):
    """One route's pipeline, its model package group, and what starts it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: RouteConfig,
        config: DeploymentConfig,
        data: s3.IBucket,
        key: kms.IKey,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        lifecycle = config.lifecycle
        self.group_name = f"{stack.stack_name}-{route.name}".lower()
        self.package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=self.group_name,
            model_package_group_description=f"Sluice {route.name}: candidates that passed the golden-query gate",
        )
        source_path, code_version = build_source_tarball(BUILD)
        source = s3_assets.Asset(self, "Source", path=str(source_path))
        bootstrap = s3_assets.Asset(self, "Bootstrap", path=str(ROOT / "model" / "pipeline" / "bootstrap.py"))

        self.role = iam.Role(
            self,
            "ExecutionRole",
            description=f"Sluice {route.name} retraining pipeline and its jobs",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    },
                },
            ),
        )
        training_image = regional_image(
            self, route.endpoint.image, lifecycle.training_instance_type, "training"
        )
        inference_image = regional_image(self, route.endpoint.image, route.endpoint.instance_type)
        self.pipeline_name = pipeline_name = f"{stack.stack_name}-retrain-{route.name}".lower()
        # The SDK parses what it is given (urlparse on S3 URIs, an ARN prefix on roles), and a CDK
        # token ("${Token[...]}") is not a host or an ARN. So the definition is built with
        # placeholders, and each placeholder is replaced by its token in the JSON afterwards.
        tokens = _Placeholders()
        data_uri = f"s3://{tokens.add(data.bucket_name)}"
        spec = PipelineSpec(
            name=pipeline_name,
            role_arn=f"arn:aws:iam::000000000000:role/{tokens.add(self.role.role_arn, whole=True)}",
            processing_image=tokens.add(training_image.uri),
            training_image=tokens.add(training_image.uri),
            inference_image=tokens.add(inference_image.uri),
            source_uri=f"s3://{tokens.add(source.s3_bucket_name)}/{tokens.add(source.s3_object_key)}",
            bootstrap_uri=f"s3://{tokens.add(bootstrap.s3_bucket_name)}/{tokens.add(bootstrap.s3_object_key)}",
            artifacts_uri=f"{data_uri}/{RUNS_PREFIX}/{route.name}",
            base_data_uri=f"{data_uri}/{BASE_DATA_PREFIX}/{route.name}",
            feedback_uri=f"{data_uri}/{FEEDBACK_PREFIX}/{route.name}",
            incumbent_model_uri=f"{data_uri}/{MODELS_PREFIX}/{route.name}/current",
            model_package_group=tokens.add(self.group_name),
            kms_key_arn=f"arn:aws:kms:us-east-1:000000000000:key/{tokens.add(key.key_arn, whole=True)}",
            code_version=code_version[:16],
            training_instance_type=lifecycle.training_instance_type,
            processing_instance_type=lifecycle.processing_instance_type,
            inference_instance_type=route.endpoint.instance_type,
        )
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_description=f"Sluice {route.name}: prepare, train, golden-query gate, register",
            role_arn=self.role.role_arn,
            pipeline_definition={
                "PipelineDefinitionBody": tokens.resolve(json.dumps(pipeline_definition(spec)))
            },
        )
        self.pipeline.node.add_dependency(self.package_group)
        self.pipeline_arn = stack.format_arn(
            service="sagemaker",
            resource="pipeline",
            resource_name=pipeline_name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self._grant_jobs(
            data, key, source, bootstrap, training_image.registry_account, training_image.repository
        )

        # EventBridge starts the pipeline with a role of its own, usable only by these rules.
        self.starter = iam.Role(
            self,
            "StarterRole",
            description=f"EventBridge starts the Sluice {route.name} retraining pipeline",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/*"
                    },
                },
            ),
        )
        self.starter.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:StartPipelineExecution"], resources=[self.pipeline_arn])
        )
        self.on_drift = events.CfnRule(
            self,
            "OnDriftDetected",
            description=f"DriftDetected on route {route.name} starts its retraining pipeline",
            event_bus_name=bus.event_bus_name,
            event_pattern={
                "source": ["sluice"],
                "detail-type": ["DriftDetected"],
                "detail": {"detail": {"route": [route.name]}},
            },
            targets=[self._target("drift")],
        )
        self.on_schedule = events.CfnRule(
            self,
            "OnSchedule",
            description=f"Scheduled retraining of route {route.name} (slow drift, accumulated feedback)",
            schedule_expression=lifecycle.retrain_schedule,
            targets=[self._target("schedule")],
        )
        self.on_feedback = events.CfnRule(
            self,
            "OnLabelledFeedback",
            description=f"Enough new labelled feedback on route {route.name} starts its retraining pipeline",
            event_bus_name=bus.event_bus_name,
            event_pattern={
                "source": ["sluice"],
                "detail-type": ["LabelledFeedbackArrived"],
                "detail": {"detail": {"route": [route.name]}},
            },
            targets=[self._target("feedback")],
        )

    def _target(self, trigger: str) -> events.CfnRule.TargetProperty:
        return events.CfnRule.TargetProperty(
            id="RetrainingPipeline",
            arn=self.pipeline_arn,
            role_arn=self.starter.role_arn,
            sage_maker_pipeline_parameters=events.CfnRule.SageMakerPipelineParametersProperty(
                pipeline_parameter_list=[
                    events.CfnRule.SageMakerPipelineParameterProperty(
                        name="ApprovalStatus", value="Approved"
                    ),
                ]
            ),
            retry_policy=events.CfnRule.RetryPolicyProperty(maximum_retry_attempts=3),
        )

    def _grant_jobs(
        self,
        data: s3.IBucket,
        key: kms.IKey,
        source: s3_assets.Asset,
        bootstrap: s3_assets.Asset,
        registry_account: str,
        repository: str,
    ) -> None:
        data.grant_read_write(self.role)
        key.grant_encrypt_decrypt(self.role)
        source.grant_read(self.role)
        bootstrap.grant_read(self.role)
        region, account, partition = Aws.REGION, Aws.ACCOUNT_ID, Aws.PARTITION
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=[
                    f"arn:{partition}:sagemaker:{region}:{account}:processing-job/*",
                    f"arn:{partition}:sagemaker:{region}:{account}:training-job/*",
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
                resources=[
                    f"arn:{partition}:sagemaker:{region}:{account}:model-package-group/{self.group_name}",
                    f"arn:{partition}:sagemaker:{region}:{account}:model-package/{self.group_name}/*",
                ],
            )
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["iam:PassRole"], resources=[self.role.role_arn]))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=[f"arn:{partition}:ecr:{region}:{registry_account}:repository/{repository}"],
            )
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        log_groups = [
            f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/ProcessingJobs*",
            f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/TrainingJobs*",
        ]
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=log_groups,
            )
        )
        bucket_arn = f"<{Stack.of(self).get_logical_id(data.node.default_child)}.Arn>"  # type: ignore[arg-type]
        for finding, reason in {
            **CDK_GRANT_FINDINGS,
            f"Resource::{bucket_arn}/*": "CDK's grant on the lifecycle bucket's objects (runs write new keys)",
            "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*": (
                "CDK's read grant on the pipeline's code assets"
            ),
            "Resource::*": "ecr:GetAuthorizationToken takes no resource",
            **{
                f"Resource::arn:<AWS::Partition>:{resource}": "SageMaker names jobs, packages and their log "
                "groups per run; scoped to this account, region and prefix"
                for resource in (
                    "sagemaker:<AWS::Region>:<AWS::AccountId>:processing-job/*",
                    "sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*",
                    f"sagemaker:<AWS::Region>:<AWS::AccountId>:model-package/{self.group_name}/*",
                    "logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/ProcessingJobs*",
                    "logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/TrainingJobs*",
                )
            },
        }.items():
            acknowledge(self.role, f"AwsSolutions-IAM5[{finding}]", reason)


class DriftMonitorFunction(Construct):
    """The scheduled monitor: every window of each route's captured answers against its baseline."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        endpoints: dict[str, str],
        data: s3.IBucket,
        bus: events.IEventBus,
        layer: lambda_.ILayerVersion,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
        feedback: FeedbackTable | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = SluiceFunction(
            self,
            "Function",
            handler_folder="drift_monitor",
            description="Sluice drift monitor: captured answers against the model's baseline",
            config=MONITOR_FUNCTION,
            layer=layer,
            key=key,
            log_retention_days=config.log_retention_days,
            removal_policy=removal_policy,
        )
        settings = DriftMonitorSettings(
            service_name=self.function.service_name,
            capture_bucket=data.bucket_name,
            capture_prefix=CAPTURE_PREFIX,
            baseline_bucket=data.bucket_name,
            baseline_prefix=BASELINE_PREFIX,
            event_bus_name=bus.event_bus_name,
            endpoints=[
                MonitoredEndpoint(route=route, endpoint=endpoints[route]) for route in config.lifecycle.routes
            ],
            policy=config.lifecycle.drift,
            feedback_table=feedback.table.table_name if feedback is not None else None,
            quality=config.lifecycle.quality,
        )
        self.function.configure(settings)
        if feedback is not None:
            feedback.grant_read(self.function.role)
        data.grant_read(self.function.role, f"{CAPTURE_PREFIX}/*")
        data.grant_read(self.function.role, f"{BASELINE_PREFIX}/*")
        key.grant_decrypt(self.function.role)
        bus.grant_put_events_to(self.function.role)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Sluice drift monitor: one window per period",
            schedule=events.Schedule.rate(Duration.minutes(config.lifecycle.drift.window_minutes)),
            targets=[targets.LambdaFunction(self.function.function, retry_attempts=2)],
        )
        bucket_arn = f"<{Stack.of(self).get_logical_id(data.node.default_child)}.Arn>"  # type: ignore[arg-type]
        for finding in (
            *CDK_GRANT_FINDINGS,
            f"Resource::{bucket_arn}/{CAPTURE_PREFIX}/*",
            f"Resource::{bucket_arn}/{BASELINE_PREFIX}/*",
        ):
            acknowledge(
                self.function.role,
                f"AwsSolutions-IAM5[{finding}]",
                "CDK's read grants on the capture and baseline prefixes (objects are named per hour and version)",
            )


class FeedbackExportFunction(Construct):
    """The scheduled export of labelled feedback to `data/feedback/<route>/`, the pipeline's input."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        feedback: FeedbackTable,
        data: s3.IBucket,
        bus: events.IEventBus,
        layer: lambda_.ILayerVersion,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = SluiceFunction(
            self,
            "Function",
            handler_folder="feedback_export",
            description="Sluice feedback export: labelled feedback as training data, retraining when enough arrived",
            config=MONITOR_FUNCTION,
            layer=layer,
            key=key,
            log_retention_days=config.log_retention_days,
            removal_policy=removal_policy,
        )
        self.function.configure(
            FeedbackExportSettings(
                service_name=self.function.service_name,
                feedback_table=feedback.table.table_name,
                training_data_bucket=data.bucket_name,
                training_data_prefix=FEEDBACK_PREFIX,
                routes=list(config.lifecycle.routes),
                policy=config.lifecycle.feedback,
                event_bus_name=bus.event_bus_name,
            )
        )
        # Reads the route's feedback, writes its export mark.
        feedback.grant_read_write(self.function.role)
        data.grant_put(self.function.role, f"{FEEDBACK_PREFIX}/*")
        key.grant_encrypt(self.function.role)
        bus.grant_put_events_to(self.function.role)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Sluice feedback export: labelled feedback to the retraining pipeline's input",
            schedule=events.Schedule.rate(Duration.minutes(config.lifecycle.feedback.export_minutes)),
            targets=[targets.LambdaFunction(self.function.function, retry_attempts=2)],
        )
        bucket_arn = f"<{Stack.of(self).get_logical_id(data.node.default_child)}.Arn>"  # type: ignore[arg-type]
        for finding in (*CDK_GRANT_FINDINGS, f"Resource::{bucket_arn}/{FEEDBACK_PREFIX}/*"):
            acknowledge(
                self.function.role,
                f"AwsSolutions-IAM5[{finding}]",
                "CDK's put grant on the feedback export prefix (one object per route under it)",
            )


def capture_endpoint(endpoint: ModelEndpoint, *, bucket: s3.IBucket, key: kms.IKey) -> None:
    """SageMaker DataCapture of every request and response to `datacapture/` (KMS), as JSON.

    JsonContentTypes makes SageMaker write JSON bodies as text (`"encoding": "JSON"`), which the
    monitor reads without decoding base64; inputs are redacted before they reach the endpoint.
    SageMaker writes with the model's execution role, so that role gets the write grant.
    https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html
    """
    endpoint.endpoint_config.data_capture_config = sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
        enable_capture=True,
        initial_sampling_percentage=100,
        destination_s3_uri=bucket.s3_url_for_object(CAPTURE_PREFIX),
        kms_key_id=key.key_arn,
        capture_options=[
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
        ],
        capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
            json_content_types=["application/json"]
        ),
    )
    bucket.grant_put(endpoint.role, f"{CAPTURE_PREFIX}/*")
    key.grant_encrypt(endpoint.role)
    bucket_arn = f"<{Stack.of(endpoint).get_logical_id(bucket.node.default_child)}.Arn>"  # type: ignore[arg-type]
    for finding in (
        f"Resource::{bucket_arn}/{CAPTURE_PREFIX}/*",
        "Action::s3:Abort*",
        "Action::kms:ReEncrypt*",
        "Action::kms:GenerateDataKey*",
    ):
        acknowledge(
            endpoint.role,
            f"AwsSolutions-IAM5[{finding}]",
            "DataCapture writes one object per hour and variant under its prefix (CDK's put grant)",
        )


class ModelLifecycle(Construct):
    """Everything above for the routes `config.lifecycle.routes` names."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        endpoints: dict[str, ModelEndpoint],
        key: kms.IKey,
        bus: events.IEventBus,
        layer: lambda_.ILayerVersion,
        removal_policy: RemovalPolicy,
        feedback: FeedbackTable | None = None,
        route_table: ssm.IParameter | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        routes = {route.name: route for route in config.routes}
        unknown = [name for name in config.lifecycle.routes if name not in routes]
        if unknown:
            raise ValueError(f"lifecycle.routes names routes that are not configured: {unknown}")
        self.data = LifecycleData(self, "Data", key=key, removal_policy=removal_policy)
        self.seed = LifecycleSeed(
            self,
            "Seed",
            routes={
                name: SeededRoute(
                    base_data=config.lifecycle.base_data[name], artifact=endpoints[name].artifact
                )
                for name in config.lifecycle.routes
            },
            bucket=self.data.bucket,
            key=key,
            log_retention_days=config.log_retention_days,
            removal_policy=removal_policy,
        )
        self.pipelines = {
            name: RetrainingPipeline(
                self,
                f"Retraining-{name}",
                route=routes[name],
                config=config,
                data=self.data.bucket,
                key=key,
                bus=bus,
            )
            for name in config.lifecycle.routes
        }
        self.monitor = DriftMonitorFunction(
            self,
            "DriftMonitor",
            config=config,
            endpoints={name: endpoint.endpoint_name for name, endpoint in endpoints.items()},
            data=self.data.bucket,
            bus=bus,
            layer=layer,
            key=key,
            removal_policy=removal_policy,
            feedback=feedback,
        )
        self.feedback_export = (
            FeedbackExportFunction(
                self,
                "FeedbackExport",
                config=config,
                feedback=feedback,
                data=self.data.bucket,
                bus=bus,
                layer=layer,
                key=key,
                removal_policy=removal_policy,
            )
            if feedback is not None
            else None
        )
        # Approved versions of real-time routes roll out with guardrails (an async endpoint
        # cannot shift traffic by canary: one variant, no TargetVariant).
        rolled_out = [name for name in config.lifecycle.routes if routes[name].endpoint.mode == "realtime"]
        self.rollout = (
            ModelRollout(
                self,
                "Rollout",
                config=config,
                endpoints=endpoints,
                package_groups={self.pipelines[name].group_name: name for name in rolled_out},
                pipelines={self.pipelines[name].pipeline_name: name for name in rolled_out},
                data=self.data.bucket,
                route_table=route_table,
                bus=bus,
                layer=layer,
                key=key,
                removal_policy=removal_policy,
            )
            if route_table is not None and rolled_out
            else None
        )
        for name in config.lifecycle.routes:
            # Asynchronous endpoints keep their inputs and outputs in S3 already; the monitor reads real-time capture.
            if routes[name].endpoint.mode == "realtime":
                capture_endpoint(endpoints[name], bucket=self.data.bucket, key=key)
