"""A Sluice Lambda function: thin handler from `functions/<name>`, the shared layer, own role.

Every function gets the same secure defaults: latest Python runtime, explicit memory and
timeout, active X-Ray tracing, a KMS-encrypted log group with retention, and a role of its
own that starts empty, so each grant in the stack is visible and least-privilege.
"""

from __future__ import annotations

import re

from aws_cdk import BundlingOptions, DockerImage, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import ROOT, LayerBundler
from infra.nag import acknowledge
from sluice.config import FunctionConfig
from sluice.runtime.settings import FunctionSettings

RUNTIME = lambda_.Runtime.PYTHON_3_14


class SluiceLayer(Construct):
    """The `sluice` library and its pinned runtime dependencies, bundled without Docker."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(
                str(ROOT / "layers"),
                bundling=BundlingOptions(
                    # Never used: LayerBundler always bundles locally (no Docker here or in CI).
                    image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
                    local=LayerBundler(),
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="sluice library with aws-lambda-powertools and pydantic",
        )


class SluiceFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler_folder: str,
        description: str,
        layer: lambda_.ILayerVersion,
        config: FunctionConfig,
        key: kms.IKey,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group, self.role = function_identity(
            self,
            description=f"Sluice {handler_folder} function",
            key=key,
            log_retention_days=log_retention_days,
            removal_policy=removal_policy,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(str(ROOT / "functions" / handler_folder)),
            layers=[layer],
            memory_size=config.memory_mb,
            timeout=Duration.seconds(config.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            role=self.role,
            reserved_concurrent_executions=config.reserved_concurrency,
            environment_encryption=key,
        )
        self.service_name = service_name(handler_folder)
        self._configured = False
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
        )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Action::{action}]",
                "CDK's grants for KMS-encrypted queues and tables; scoped to the platform key",
            )

    def configure(self, settings: FunctionSettings) -> None:
        """The function's whole environment, rendered from its settings model (`sluice.runtime`).

        Called once, after every resource the settings name exists: the model is the single
        source of the variables, so nothing else adds to them.
        """
        if self._configured:
            raise ValueError(f"{self.service_name} is already configured")
        self._configured = True
        environment = settings.environment()
        size = deployed_environment_bytes(environment)
        if size > LAMBDA_ENVIRONMENT_LIMIT_BYTES:
            raise ValueError(
                f"{self.service_name}: its environment would be about {size} bytes once deployed; Lambda "
                f"allows {LAMBDA_ENVIRONMENT_LIMIT_BYTES} (fewer routes, variants or tenant overrides)"
            )
        for name, value in environment.items():
            self.function.add_environment(name, value)


# "The total size of all environment variables doesn't exceed 4 KB" (Lambda quotas,
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); CreateFunction fails
# at deploy time otherwise, which no linter checks.
LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096
# What one unresolved reference (a queue URL, a table name, an ARN) is allowed to grow to.
_RESOLVED_TOKEN_BYTES = 128
_TOKEN = re.compile(r"\$\{Token\[[^\]]*\]\}")


def deployed_environment_bytes(environment: dict[str, str]) -> int:
    """The variables' size as Lambda counts it, each CDK token as long as it may resolve to."""
    total = 0
    for name, value in environment.items():
        tokens = len(_TOKEN.findall(value))
        total += len(name) + len(_TOKEN.sub("", value).encode()) + tokens * _RESOLVED_TOKEN_BYTES
    return total


def service_name(handler_folder: str) -> str:
    """A function's POWERTOOLS_SERVICE_NAME: its logs' `service` and its metrics' dimension."""
    return f"sluice-{handler_folder}"


_RETENTION_DAYS = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1827: "FIVE_YEARS",
    3653: "TEN_YEARS",
}


def retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch retention that keeps logs at least `days` days."""
    chosen = next((d for d in sorted(_RETENTION_DAYS) if d >= days), max(_RETENTION_DAYS))
    return logs.RetentionDays[_RETENTION_DAYS[chosen]]


def function_identity(
    scope: Construct,
    *,
    description: str,
    key: kms.IKey,
    log_retention_days: int,
    removal_policy: RemovalPolicy,
) -> tuple[logs.LogGroup, iam.Role]:
    """A function's own KMS-encrypted log group with retention, and its role, which may write there
    (`Logs` and `Role` under `scope`)."""
    log_group = logs.LogGroup(
        scope,
        "Logs",
        retention=retention(log_retention_days),
        encryption_key=key,
        removal_policy=removal_policy,
    )
    role = iam.Role(
        scope, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
    )
    log_group.grant_write(role)
    return log_group, role
