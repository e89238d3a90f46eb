"""The platform's EventBridge bus: InferenceCompleted and, later, lifecycle and cost events."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct


class PlatformEventBus(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", description="Sluice platform events", kms_key=key)
        # Keep a week of events so a consumer that was down can replay what it missed.
        self.bus.archive(
            "Archive",
            description="Replayable history of Sluice events",
            event_pattern=events.EventPattern(source=["sluice"]),
            retention=Duration.days(7),
        )
