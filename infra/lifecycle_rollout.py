"""Rollout of approved model versions: the `deploy` function, the rollback alarms SageMaker
watches during a guarded update, and the rules on SageMaker's own events that drive it
(a package approved, an endpoint settled, a retraining run failed)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.functions import SluiceFunction
from infra.lifecycle_layout import BASELINE_PREFIX, MODELS_PREFIX, ROLLOUT_PREFIX, RUNS_PREFIX
from infra.model_endpoint import ModelEndpoint
from infra.nag import acknowledge
from sluice.config import DeploymentConfig, RouteConfig
from sluice.lifecycle.rollout import RolloutTarget
from sluice.runtime.deploy import Settings as DeploySettings

DEPLOY_FUNCTION_TIMEOUT_SECONDS = 120


def rollout_variant(route: RouteConfig) -> str:
    """New versions go to the route's last variant: its canary when it has two, else its only one."""
    return route.endpoint.production_variants[-1].name


class RollbackAlarms(Construct):
    """The alarms SageMaker watches on the variant being updated: its 5XX share and its p99 latency."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: RouteConfig,
        endpoint_name: str,
        config: DeploymentConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        policy = config.lifecycle.rollout
        dimensions = {"EndpointName": endpoint_name, "VariantName": rollout_variant(route)}

        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map=dimensions,
                statistic=statistic,
                period=Duration.minutes(1),
            )

        self.errors = cloudwatch.Alarm(
            self,
            "ErrorRate",
            alarm_description=f"Sluice {route.name}: share of 5XX answers of the variant taking a new version",
            metric=cloudwatch.MathExpression(
                expression="IF(invocations > 0, errors / invocations, 0)",
                using_metrics={
                    "errors": metric("Invocation5XXErrors", "Sum"),
                    "invocations": metric("Invocations", "Sum"),
                },
                period=Duration.minutes(1),
            ),
            threshold=policy.max_error_rate,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # ModelLatency is reported in microseconds.
        self.latency = cloudwatch.Alarm(
            self,
            "Latency",
            alarm_description=f"Sluice {route.name}: p99 model latency of the variant taking a new version",
            metric=metric("ModelLatency", "p99"),
            threshold=policy.max_latency_ms * 1000,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.names = (self.errors.alarm_name, self.latency.alarm_name)


class ModelRollout(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        endpoints: dict[str, ModelEndpoint],
        package_groups: dict[str, str],
        pipelines: dict[str, str],
        data: s3.IBucket,
        route_table: ssm.IParameter,
        bus: events.IEventBus,
        layer: lambda_.ILayerVersion,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        routes = {route.name: route for route in config.routes}
        self.alarms = {
            name: RollbackAlarms(
                self,
                f"Alarms-{name}",
                route=routes[name],
                endpoint_name=endpoints[name].endpoint_name,
                config=config,
            )
            for name in package_groups.values()
        }
        self.function = SluiceFunction(
            self,
            "Function",
            handler_folder="deploy",
            description="Sluice deploy: approved model versions rolled out with SageMaker deployment guardrails",
            config=config.worker_function.model_copy(
                update={"timeout_seconds": DEPLOY_FUNCTION_TIMEOUT_SECONDS}
            ),
            layer=layer,
            key=key,
            log_retention_days=config.log_retention_days,
            removal_policy=removal_policy,
        )
        self.function.configure(
            DeploySettings(
                service_name=self.function.service_name,
                event_bus_name=bus.event_bus_name,
                lifecycle_bucket=data.bucket_name,
                baseline_prefix=BASELINE_PREFIX,
                models_prefix=MODELS_PREFIX,
                route_table_parameter=route_table.parameter_name,
                targets=[
                    RolloutTarget(
                        route=name,
                        endpoint=endpoints[name].endpoint_name,
                        variant=rollout_variant(routes[name]),
                        alarms=self.alarms[name].names,
                    )
                    for name in package_groups.values()
                ],
                package_groups=package_groups,
                pipelines=pipelines,
                policy=config.lifecycle.rollout,
            )
        )
        self._grant(endpoints, package_groups, data, route_table, bus, key)
        function = targets.LambdaFunction(self.function.function, retry_attempts=2)
        self.on_approval = events.Rule(
            self,
            "OnPackageApproved",
            description="An approved model package of a Sluice route starts its rollout",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": list(package_groups), "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[function],
        )
        self.on_endpoint = events.Rule(
            self,
            "OnEndpointSettled",
            description="A Sluice endpoint changed state: the rollout in flight is judged",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Endpoint State Change"],
                detail={
                    "EndpointName": [endpoints[name].endpoint_name for name in package_groups.values()],
                    "EndpointStatus": ["IN_SERVICE", "FAILED"],
                },
            ),
            targets=[function],
        )
        self.on_pipeline_failed = events.Rule(
            self,
            "OnRetrainingFailed",
            description="A failed retraining run: ModelRejected if the golden-query gate refused the candidate",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
                detail={
                    "currentPipelineExecutionStatus": ["Failed"],
                    "pipelineArn": [
                        Stack.of(self).format_arn(
                            service="sagemaker", resource="pipeline", resource_name=name.lower()
                        )
                        for name in pipelines
                    ],
                },
            ),
            targets=[function],
        )

    def _grant(
        self,
        endpoints: dict[str, ModelEndpoint],
        package_groups: dict[str, str],
        data: s3.IBucket,
        route_table: ssm.IParameter,
        bus: events.IEventBus,
        key: kms.IKey,
    ) -> None:
        role = self.function.role
        region, account, partition = Aws.REGION, Aws.ACCOUNT_ID, Aws.PARTITION
        arn = f"arn:{partition}:sagemaker:{region}:{account}"
        served = [endpoints[name] for name in package_groups.values()]
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint"],
                resources=[endpoint.endpoint_arn for endpoint in served],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:CreateModel",
                ],
                # The configs and models the stack made are named by CloudFormation; the
                # deploy function's are named after their endpoint.
                resources=[f"{arn}:endpoint-config/*", f"{arn}:model/*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                resources=[
                    resource
                    for group in package_groups
                    for resource in (f"{arn}:model-package-group/{group}", f"{arn}:model-package/{group}/*")
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[endpoint.role.role_arn for endpoint in served],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        route_table.grant_read(role)
        route_table.grant_write(role)
        data.grant_read_write(role, f"{ROLLOUT_PREFIX}/*")
        data.grant_read(role, f"{RUNS_PREFIX}/*")
        # A version that rolls out: its baseline published for the monitor, then its artifact
        # copied in as the next retraining's incumbent.
        data.grant_put(role, f"{BASELINE_PREFIX}/*")
        data.grant_put(role, f"{MODELS_PREFIX}/*")
        key.grant_encrypt_decrypt(role)
        bus.grant_put_events_to(role)
        # New versions' artifacts are in the lifecycle bucket: the models' role reads them.
        for endpoint in served:
            data.grant_read(endpoint.role, f"{RUNS_PREFIX}/*")
            key.grant_decrypt(endpoint.role)
        bucket_arn = f"<{Stack.of(self).get_logical_id(data.node.default_child)}.Arn>"  # type: ignore[arg-type]
        for scope, findings in (
            (
                role,
                (
                    "Action::s3:GetObject*",
                    "Action::s3:GetBucket*",
                    "Action::s3:List*",
                    "Action::s3:DeleteObject*",
                    "Action::s3:Abort*",
                    "Action::kms:GenerateDataKey*",
                    "Action::kms:ReEncrypt*",
                    f"Resource::{bucket_arn}/{ROLLOUT_PREFIX}/*",
                    f"Resource::{bucket_arn}/{RUNS_PREFIX}/*",
                    f"Resource::{bucket_arn}/{BASELINE_PREFIX}/*",
                    f"Resource::{bucket_arn}/{MODELS_PREFIX}/*",
                    "Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:endpoint-config/*",
                    "Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model/*",
                    *(
                        f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model-package/{group}/*"
                        for group in package_groups
                    ),
                ),
            ),
            *(
                (
                    endpoint.role,
                    (
                        "Action::s3:GetObject*",
                        "Action::s3:GetBucket*",
                        "Action::s3:List*",
                        f"Resource::{bucket_arn}/{RUNS_PREFIX}/*",
                    ),
                )
                for endpoint in served
            ),
        ):
            for finding in findings:
                acknowledge(
                    scope,
                    f"AwsSolutions-IAM5[{finding}]",
                    "Rollouts name models, configs, packages and run outputs per version: scoped to this "
                    "account, region, prefix and the routes' package groups",
                )
