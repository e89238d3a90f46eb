"""The feedback table: feedback per tenant and inference, the API's inference log on feedback
routes, counters per route, variant and model version (sluice.adapters.dynamodb_feedback)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.nag import acknowledge
from infra.state import encrypted_table
from sluice.adapters.feedback_table import BY_ROUTE_INDEX, TTL_ATTRIBUTE


class FeedbackTable(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        # Feedback is training data: kept (PITR, the stage's removal policy); log items expire.
        self.table = encrypted_table(
            self,
            "Table",
            key=key,
            removal_policy=removal_policy,
            ttl_attribute=TTL_ATTRIBUTE,
            partition_key="pk",
        )
        # Sparse: only feedback items carry `feedback_route`; the export and the monitor's
        # accuracy windows read a route's feedback in time order.
        self.table.add_global_secondary_index(
            index_name=BY_ROUTE_INDEX,
            partition_key=dynamodb.Attribute(name="feedback_route", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
        )
        arn = f"<{Stack.of(self).get_logical_id(self.table.node.default_child)}.Arn>"  # type: ignore[arg-type]
        self._index_finding = f"AwsSolutions-IAM5[Resource::{arn}/index/*]"

    def grant_read_write(self, role: iam.IRole) -> None:
        self.table.grant_read_write_data(role)
        self._acknowledge(role)

    def grant_read(self, role: iam.IRole) -> None:
        self.table.grant_read_data(role)
        self._acknowledge(role)

    def _acknowledge(self, role: iam.IRole) -> None:
        acknowledge(
            role,  # type: ignore[arg-type]
            self._index_finding,
            "Grants on the feedback table include its one index (ByRoute: a route's feedback in time order)",
        )
