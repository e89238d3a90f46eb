"""The operators' alert topic: every alarm in the stack notifies it, so no alarm fires unheard.

The topic is encrypted with the platform key; CloudWatch may use the key only for alarms of this
account (confused deputy). Operators subscribe with `alarm_emails` in cdk.json, or attach their
own paging tool to the `AlertTopicArn` output.
"""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class ScalingTrigger(cloudwatch.Alarm):
    """An alarm that drives autoscaling rather than reports a fault (a request arriving at an
    endpoint scaled to zero): it carries a scaling action, and paging on it would page for normal
    operation, so it is the one kind of alarm that does not notify the operators."""


class OperatorAlerts(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, emails: tuple[str, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        alarms_of_this_account = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
            },
        }
        # The topic's own policy (made for enforce_ssl) replaces SNS's default one, so CloudWatch
        # must be allowed to publish explicitly: without this no alarm reaches anyone.
        # https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=alarms_of_this_account,
            )
        )
        # CloudWatch publishes alarm notifications to an encrypted topic only if the key policy
        # lets it use the key (Decrypt, GenerateDataKey*), held to this account's alarms:
        # https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=alarms_of_this_account,
            )
        )

    def notify_every_alarm(self) -> None:
        """Wire each operator alarm in the stack to the topic (call once, after all are made)."""
        action = cloudwatch_actions.SnsAction(self.topic)
        for construct in Stack.of(self).node.find_all():
            if isinstance(construct, cloudwatch.Alarm) and not isinstance(construct, ScalingTrigger):
                construct.add_alarm_action(action)
                construct.add_ok_action(action)
