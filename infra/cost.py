"""Cost governance in the template: the cost table, the stack's AWS budget and its topic, the
alarms on metered spend and instance hours, and the rules that start the `budget` function.

- `CostTable`: tenant usage (the budgets' conditional counters), metering counters, the actions
  in force and their audit trail.
- `StackBudget`: an AWS Budgets cost budget filtered by the stack's tag, notifying an SNS topic
  encrypted with the platform key; the topic and key policies let Budgets (and only for this
  account's budgets) publish: https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
- `CostAlarms`: per tenant with a budget, its metered spend in a day; per configured route, its
  endpoint's instance hours in a day (from the `budget` function's instance samples).
- `CostRules`: "CloudWatch Alarm State Change" of those alarms on the default bus (where
  CloudWatch sends them), a 5-minute schedule, and the budget topic, each to the function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.functions import SluiceFunction
from infra.model_endpoint import ModelEndpoint
from infra.nag import acknowledge
from infra.queues import dead_letter_queue
from infra.state import encrypted_table
from sluice.config import DeploymentConfig
from sluice.cost.alarms import NAMESPACE, SAMPLE_EVERY_MINUTES, alarm_name, cost_alarm_specs

# The tag every resource of the stack carries, and the budget filters on. It must be activated
# as a cost allocation tag in the payer account before Budgets can filter on it:
# https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html
STACK_TAG = "sluice-stack"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"


def budget_tag_filter(stack_name: str) -> dict[str, list[str]]:
    """CostFilters for one user tag: `TagKeyValue` = `user:<key>$<value>`.
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Budget.html"""
    return {"TagKeyValue": [f"user:{STACK_TAG}${stack_name}"]}


class CostTable(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = encrypted_table(
            self, "Table", key=key, removal_policy=removal_policy, ttl_attribute="expires_at"
        )


class StackBudget(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        budgets_of_this_account = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:budgets::{Aws.ACCOUNT_ID}:*"},
        }
        budgets_principal = iam.ServicePrincipal("budgets.amazonaws.com")
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AWSBudgetsSNSPublishingPermissions",
                principals=[budgets_principal],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=budgets_of_this_account,
            )
        )
        # A service publishing to an encrypted topic needs the key too:
        # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[budgets_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=budgets_of_this_account,
            )
        )
        cost = config.cost
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(
                    amount=cost.stack_monthly_budget_usd, unit="USD"
                ),
                cost_filters=budget_tag_filter(stack.stack_name),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[
                        budgets.CfnBudget.SubscriberProperty(
                            subscription_type="SNS", address=self.topic.topic_arn
                        )
                    ],
                )
                for threshold in cost.stack_budget_thresholds_percent
                for kind in ("ACTUAL", "FORECASTED")
            ],
        )


class CostAlarms(Construct):
    """Alarms whose state changes the `budget` function acts on; `triggers` maps each to its trigger."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, tenant_ids: Mapping[str, str]
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        stack_name = Stack.of(self).stack_name
        # The meter's tenant dimension is the id requests carry: each tenant's API key id.
        for spec in cost_alarm_specs(config, tenant_ids):
            metric = cloudwatch.Metric(
                namespace=NAMESPACE,
                metric_name=spec.metric_name,
                dimensions_map=spec.dimensions,
                statistic=spec.statistic,
                period=Duration.seconds(spec.period_seconds),
            )
            self.alarms[spec.trigger] = cloudwatch.Alarm(
                self,
                spec.trigger.replace(":", "-"),
                alarm_name=alarm_name(stack_name, spec.trigger),
                alarm_description=spec.description,
                metric=metric
                if spec.expression is None
                else cloudwatch.MathExpression(
                    expression=spec.expression,
                    using_metrics={"samples": metric},
                    label=spec.metric_name,
                    period=Duration.seconds(spec.period_seconds),
                ),
                threshold=spec.threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

    @property
    def triggers(self) -> dict[str, str]:
        """Alarm name to trigger: what the `budget` function reads from COST_ALARM_TRIGGERS."""
        return {alarm.alarm_name: trigger for trigger, alarm in self.alarms.items()}


class CostRules(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: SluiceFunction,
        alarms: Mapping[str, cloudwatch.Alarm],
        budget_topic: sns.ITopic,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        # Events that could not reach the function stay here (with the platform key) for a redrive.
        self.dead_letters = dead_letter_queue(self, key=key)
        acknowledge(
            self.dead_letters, "AwsSolutions-SQS3", "This queue is itself the rules' dead-letter queue"
        )
        target = targets.LambdaFunction(
            function.function,
            dead_letter_queue=self.dead_letters,
            retry_attempts=8,
            max_event_age=Duration.hours(6),
        )
        self.alarm_rule: events.Rule | None = None
        if alarms:
            # CloudWatch sends alarm state changes to the default bus only.
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
            self.alarm_rule = events.Rule(
                self,
                "AlarmStateChanges",
                description="Sluice cost alarms changing state: apply or revert cost actions",
                event_pattern=events.EventPattern(
                    source=["aws.cloudwatch"],
                    detail_type=[ALARM_STATE_CHANGE],
                    resources=[alarm.alarm_arn for alarm in alarms.values()],
                ),
                targets=[target],
            )
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Sluice budget function: sample instance counts, end last month's budget actions",
            schedule=events.Schedule.rate(Duration.minutes(SAMPLE_EVERY_MINUTES)),
            targets=[target],
        )
        budget_topic.add_subscription(subscriptions.LambdaSubscription(function.function))


def grant_cost_controls(function: SluiceFunction, endpoints: Iterable[ModelEndpoint]) -> None:
    """What the cost actions call besides the cost table, the bus and the route table parameter."""
    arns = [endpoint.endpoint_arn for endpoint in endpoints]
    # The instance sampler reads each endpoint's CurrentInstanceCount.
    iam.Grant.add_to_principal(
        grantee=function.role, actions=["sagemaker:DescribeEndpoint"], resource_arns=arns
    )
    # RegisterScalableTarget on a SageMaker variant also needs these on the endpoint:
    # https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-prerequisites.html
    iam.Grant.add_to_principal(
        grantee=function.role,
        actions=["sagemaker:DescribeEndpointConfig", "sagemaker:UpdateEndpointWeightsAndCapacities"],
        resource_arns=[
            *arns,
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:endpoint-config/*",
        ],
    )
    function.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["application-autoscaling:DescribeScalableTargets"], resources=["*"])
    )
    # A scalable target's ARN holds an id assigned at registration, so the resource is `*`,
    # held by the service's condition keys to SageMaker variants' instance counts:
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_applicationautoscaling.html
    function.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["application-autoscaling:RegisterScalableTarget"],
            resources=["*"],
            conditions={
                "StringEquals": {
                    "application-autoscaling:service-namespace": "sagemaker",
                    "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
                }
            },
        )
    )
    acknowledge(
        function.role,
        "AwsSolutions-IAM5[Resource::*]",
        "DescribeScalableTargets has no resource-level permissions, and a scalable target's ARN holds "
        "an id assigned at registration: the ranges it sets are the stack's own variants (resource ids in code)",
    )
    acknowledge(
        function.role,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:endpoint-config/*]",
        "Endpoint config names are generated per deploy; read-only DescribeEndpointConfig for scaling",
    )
