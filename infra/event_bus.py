"""The platform's EventBridge bus: InferenceCompleted and, later, lifecycle and cost events."""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Names, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

ARCHIVE_RETENTION_DAYS = 7


class PlatformEventBus(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", description="Sluice platform events", kms_key=key)
        # Keep a week of events so a consumer that was down can replay what it missed. The archive
        # is a CfnArchive, not `bus.archive()`: CDK's writes `KmsKeyIdentifier: ""` (rejected in
        # some regions, aws-cdk#37847) and cannot take the customer key (aws-cdk#38298); events
        # hold ids and codes only, but they are the platform's records, so they get its key.
        self.archive = events.CfnArchive(
            self,
            "Archive",
            source_arn=self.bus.event_bus_arn,
            description="Replayable history of Sluice events",
            event_pattern={"source": ["sluice"]},
            retention_days=ARCHIVE_RETENTION_DAYS,
            kms_key_identifier=key.key_arn,
        )
        # "AWS KMS key policy for archives": EventBridge uses the key with the bus ARN as
        # encryption context, https://docs.aws.amazon.com/eventbridge/latest/userguide/encryption-archives.html
        # The bus ARN is spelled from its generated name, as CDK's own bus grant does: a reference
        # to the bus would make the key depend on the bus it encrypts (a cycle).
        bus_arn = Stack.of(self).format_arn(
            service="events",
            resource="event-bus",
            resource_name=Names.unique_id(self.bus),
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        events_principal = iam.ServicePrincipal("events.amazonaws.com")
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[events_principal],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[events_principal],
                actions=["kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncrypt*"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": Aws.ACCOUNT_ID,
                        "kms:EncryptionContext:aws:events:event-bus:arn": bus_arn,
                    }
                },
            )
        )
