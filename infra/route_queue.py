"""A route's work queue: SQS with a DLQ, KMS, TLS only, and alarms on what must not pile up."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.queues import DeadLetteredQueue
from sluice.config import RouteConfig


class RouteQueue(DeadLetteredQueue):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: RouteConfig,
        key: kms.IKey,
        visibility_timeout_seconds: int,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            key=key,
            visibility_timeout_seconds=visibility_timeout_seconds,
            max_receive_count=route.max_receive_count,
            alarm_description=f"Route {route.name}: messages in the dead-letter queue",
            data_key_reuse=Duration.minutes(5),
        )
        self.backlog_age_alarm = cloudwatch.Alarm(
            self,
            "BacklogAgeAlarm",
            alarm_description=f"Route {route.name}: oldest queued job is older than 5 minutes",
            metric=self.queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=300,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
