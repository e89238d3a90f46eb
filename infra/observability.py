"""Observability in CDK: the stage's dashboard, the operational alarms and the audit trail.

The dashboard's EMF panels come from `sluice.observability.panels` (the same list `make
dashboard` draws locally), each as a SEARCH over its dimension set; the AWS-native panels (SQS,
SageMaker, Lambda) follow. Alarms need fixed dimensions, so they read the rollup dimension sets
the signals emit (per function, per route). Every alarm made here is notified by
`OperatorAlerts.notify_every_alarm`, which the stack calls last.

The audit trail is a table the functions may only PutItem into, and an `audit` function that
files the platform bus's administrative events (and job and batch outcomes) into it.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.functions import SluiceFunction
from infra.queues import DeadLetteredQueue
from sluice.adapters.dynamodb_audit import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from sluice.config import DeploymentConfig
from sluice.observability.audit_events import AUDITED_EVENTS
from sluice.observability.panels import API, NAMESPACE, PANELS, Panel, Series

_PERIOD = Duration.minutes(1)


def _search(series: Series) -> cloudwatch.MathExpression:
    # `{Namespace,dims}` matches exactly that dimension set; `Namespace="..."` any set.
    schema = (
        f'Namespace="{NAMESPACE}"'
        if series.any_set
        else "{" + ",".join([NAMESPACE, *series.dimensions]) + "}"
    )
    fixed = " ".join(f'{name}="{value}"' for name, value in series.fixed)
    query = f'{schema} MetricName="{series.metric}" {fixed}'.strip()
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{query}', '{series.stat}', 60)",
        label=series.label,
        period=_PERIOD,
        using_metrics={},
    )


def _graph(panel: Panel) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=panel.title,
        left=[_search(series) for series in panel.series],
        left_y_axis=cloudwatch.YAxisProps(label=panel.unit, show_units=False),
        width=8,
        height=6,
    )


def _emf(metric: str, statistic: str, **dimensions: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=metric,
        dimensions_map=dimensions,
        statistic=statistic,
        period=Duration.minutes(5),
    )


class OperationalAlarms(Construct):
    """Error rate, p99 latency, model latency and endpoint errors; DLQ depth and queue age are
    the queues' own alarms (infra/queues.py, infra/route_queue.py)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        endpoint_names: dict[str, str],
        functions: dict[str, SluiceFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []
        server_errors = _emf("RequestErrors", "Sum", service=API, error_class="server")
        all_errors = _emf("RequestErrors", "Sum", service=API)
        accepted = _emf("Requests", "Sum", service=API)
        # The platform's failures among all answers; the callers' own 4xx do not page anyone.
        error_rate = cloudwatch.MathExpression(
            expression="100 * FILL(server, 0) / MAX([FILL(accepted, 0) + FILL(errors, 0), 1])",
            using_metrics={"server": server_errors, "accepted": accepted, "errors": all_errors},
            label="api 5xx rate (%)",
            period=Duration.minutes(5),
        )
        self._alarm(
            "ApiErrorRate",
            error_rate,
            threshold=5,
            description="api: more than 5% of answers are the platform's errors (5xx) for 10 minutes",
            evaluation_periods=2,
        )
        self._alarm(
            "AuditWriteFailures",
            _emf("AuditWriteFailures", "Sum", service=API),
            threshold=0,
            description="api: audit records could not be written (the trail has gaps)",
        )
        for route in config.routes:
            self._alarm(
                f"LatencyP99-{route.name}",
                _emf("LatencyMs", "p99", service=API, route=route.name),
                threshold=route.time_budget_ms,
                description=f"Route {route.name}: api p99 latency above its time budget ({route.time_budget_ms} ms)",
                evaluation_periods=3,
            )
            endpoint = endpoint_names[route.name]
            for variant in route.endpoint.production_variants:
                dims = {"EndpointName": endpoint, "VariantName": variant.name}
                self._alarm(
                    f"ModelLatency-{route.name}-{variant.name}",
                    cloudwatch.Metric(
                        namespace="AWS/SageMaker",
                        metric_name="ModelLatency",
                        dimensions_map=dims,
                        statistic="p99",
                        period=Duration.minutes(5),
                    ),
                    # ModelLatency is in microseconds.
                    threshold=route.time_budget_ms * 1000 * 0.8,
                    description=f"Route {route.name}/{variant.name}: model p99 latency near the time budget",
                    evaluation_periods=3,
                )
                for errors, threshold in (("Invocation5XXErrors", 0), ("Invocation4XXErrors", 10)):
                    self._alarm(
                        f"{errors}-{route.name}-{variant.name}",
                        cloudwatch.Metric(
                            namespace="AWS/SageMaker",
                            metric_name=errors,
                            dimensions_map=dims,
                            statistic="Sum",
                            period=Duration.minutes(5),
                        ),
                        threshold=threshold,
                        description=f"Route {route.name}/{variant.name}: endpoint {errors} above {threshold}",
                    )
        for name, function in functions.items():
            self._alarm(
                f"FunctionErrors-{name}",
                function.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                threshold=0,
                description=f"{name} function: invocations failed (unhandled errors or timeouts)",
            )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> None:
        self.alarms.append(
            cloudwatch.Alarm(
                self,
                construct_id,
                metric=metric,
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=evaluation_periods,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
        )


class StageDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        queues: dict[str, DeadLetteredQueue],
        endpoint_names: dict[str, str],
        alarms: list[cloudwatch.Alarm],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{Stack.of(self).stack_name}-{config.stage}",
            default_interval=Duration.hours(3),
        )
        self.dashboard.add_widgets(*(_graph(panel) for panel in PANELS))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    queue.dead_letters.metric_approximate_number_of_messages_visible(
                        period=_PERIOD, statistic="Maximum", label=name
                    )
                    for name, queue in queues.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Oldest queued message (s)",
                left=[
                    queue.queue.metric_approximate_age_of_oldest_message(
                        period=_PERIOD, statistic="Maximum", label=name
                    )
                    for name, queue in queues.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Endpoint invocations and model latency (p99, µs)",
                left=[
                    cloudwatch.Metric(
                        namespace="AWS/SageMaker",
                        metric_name="Invocations",
                        dimensions_map={"EndpointName": endpoint_names[r.name], "VariantName": v.name},
                        statistic="Sum",
                        period=_PERIOD,
                        label=f"{r.name}/{v.name}",
                    )
                    for r in config.routes
                    for v in r.endpoint.production_variants
                ],
                right=[
                    cloudwatch.Metric(
                        namespace="AWS/SageMaker",
                        metric_name="ModelLatency",
                        dimensions_map={"EndpointName": endpoint_names[r.name], "VariantName": v.name},
                        statistic="p99",
                        period=_PERIOD,
                        label=f"{r.name}/{v.name} p99",
                    )
                    for r in config.routes
                    for v in r.endpoint.production_variants
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24, height=4)
        )


class AuditTrail(Construct):
    """The audit table, and the `audit` function filing the bus's audited events into it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        bus: events.IEventBus,
        function: SluiceFunction,
        visibility_timeout_seconds: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            # An audit trail outlives the stack that wrote it, in every stage.
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True,
        )
        self.inbox = DeadLetteredQueue(
            self,
            "Inbox",
            key=key,
            visibility_timeout_seconds=visibility_timeout_seconds,
            max_receive_count=5,
            alarm_description="audit: events that could not be filed in the audit trail",
        )
        # A CfnRule with its target and the queue's grant written out: CDK's SqsQueue target
        # grants an encrypted queue's key to EventBridge without any condition (aws-cdk#11158),
        # which the confused-deputy rule (tests/infra/test_deploy_rules.py) forbids.
        rule = events.CfnRule(
            self,
            "AuditedEvents",
            description="Administrative actions and job outcomes into the audit trail",
            event_bus_name=bus.event_bus_name,
            event_pattern={"source": ["sluice"], "detail-type": list(AUDITED_EVENTS)},
            targets=[events.CfnRule.TargetProperty(id="audit-inbox", arn=self.inbox.queue.queue_arn)],
        )
        self.inbox.queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.inbox.queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
            )
        )
        # EventBridge writes to a KMS-encrypted queue only if the key policy lets it use the key;
        # held to this account's rules (the rule's own ARN would make the key depend on the rule,
        # which depends on the queue, which depends on the key).
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html#eb-sqs-encrypted
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/*"
                    },
                },
            )
        )
        function.function.add_event_source(
            sources.SqsEventSource(self.inbox.queue, batch_size=10, report_batch_item_failures=True)
        )
        self.grant_append(function.role)

    def grant_append(self, grantee: iam.IGrantable) -> None:
        """PutItem only: a writer can add records, never change or remove one."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["dynamodb:PutItem"], resource_arns=[self.table.table_arn]
        )
        grant.assert_success()
        if self.table.encryption_key is not None:
            self.table.encryption_key.grant_encrypt_decrypt(grantee)
