"""The sweeper's schedule: every few minutes, finish async jobs whose notification was lost."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.functions import SluiceFunction


class SweeperSchedule(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, function: SluiceFunction, every_minutes: int = 5
    ) -> None:
        super().__init__(scope, construct_id)
        # A missed tick is made up by the next one: the sweep reads state, not the event.
        self.rule = events.Rule(
            self,
            "Rule",
            description="Sluice: finish asynchronous jobs whose SageMaker notification was lost",
            schedule=events.Schedule.rate(Duration.minutes(every_minutes)),
            targets=[targets.LambdaFunction(function.function, retry_attempts=2)],
        )
