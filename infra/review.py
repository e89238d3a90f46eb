"""Human review: the review queue (KMS, TLS only, DLQ with an alarm), the review table (KMS,
PITR, indexes by state), the intake function that files queued items, the operator function
behind AWS_IAM routes, an alarm on outputs that could not be queued for review, and the
managed policy an operator role attaches to call the operator routes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.functions import SluiceFunction
from infra.nag import acknowledge
from infra.queues import DeadLetteredQueue
from infra.state import encrypted_table
from sluice.adapters.review_table import CREATED_ATTRIBUTE, INDEXES, PARTITION_KEY

REVIEW_MAX_RECEIVE_COUNT = 5


class HumanReview(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
        intake: SluiceFunction,
        operator: SluiceFunction,
        visibility_timeout_seconds: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.inbox = DeadLetteredQueue(
            self,
            "Queue",
            key=key,
            visibility_timeout_seconds=visibility_timeout_seconds,
            max_receive_count=REVIEW_MAX_RECEIVE_COUNT,
            alarm_description="review: items that could not be filed for human review",
        )
        # Review items are the record of what people decided: kept like the feedback they become.
        self.table = encrypted_table(
            self, "Table", key=key, removal_policy=removal_policy, partition_key=PARTITION_KEY
        )
        for index, partition in INDEXES:
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=partition, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=CREATED_ATTRIBUTE, type=dynamodb.AttributeType.STRING),
            )
        arn = f"<{Stack.of(self).get_logical_id(self.table.node.default_child)}.Arn>"  # type: ignore[arg-type]
        self._index_finding = f"AwsSolutions-IAM5[Resource::{arn}/index/*]"
        intake.function.add_event_source(
            sources.SqsEventSource(self.inbox.queue, batch_size=10, report_batch_item_failures=True)
        )
        # Intake writes new items (conditional PutItem) and reads nothing else.
        self.table.grant(intake.role, "dynamodb:PutItem")
        acknowledge(
            intake.role,  # type: ignore[arg-type]
            self._index_finding,
            "CDK's table grant names the table's indexes too; intake only calls PutItem on the table",
        )
        # The operator API lists (the indexes), reads and resolves (conditional UpdateItem).
        self.table.grant(operator.role, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem")
        acknowledge(
            operator.role,  # type: ignore[arg-type]
            self._index_finding,
            "The operator API queries the review table's two indexes (items by state, by state and route)",
        )
        self.operator = operator

    def grant_submit(self, grantee: iam.IGrantable) -> None:
        """The functions that guard outputs send review items."""
        self.inbox.queue.grant_send_messages(grantee)

    def not_queued_alarms(self, services: Sequence[str]) -> list[cloudwatch.Alarm]:
        """One alarm per function that guards outputs: an output that should be in review is not
        (`ReviewsNotQueued`, sluice.observability.signals). Its answer stood or its job came back."""
        return [
            cloudwatch.Alarm(
                self,
                f"NotQueued-{service}",
                alarm_description=f"{service}: outputs that should be in human review could not be queued",
                metric=cloudwatch.Metric(
                    namespace="Sluice",
                    metric_name="ReviewsNotQueued",
                    dimensions_map={"service": service},
                    statistic="Sum",
                    period=Duration.minutes(5),
                ),
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            for service in services
        ]

    def add_operator_routes(self, api: apigw.RestApi, v1: apigw.IResource) -> iam.ManagedPolicy:
        """`GET /v1/reviews`, `GET /v1/reviews/{id}`, `POST /v1/reviews/{id}/resolution` with
        AWS_IAM authorization (SigV4), never an API key; returns the policy that allows them."""
        integration = apigw.LambdaIntegration(self.operator.function, proxy=True)
        validator = api.add_request_validator("OperatorParameterValidator", validate_request_parameters=True)
        iam_auth = {"authorization_type": apigw.AuthorizationType.IAM}
        by_id = {"request_validator": validator, "request_parameters": {"method.request.path.id": True}}
        reviews = v1.add_resource("reviews")
        methods = [
            reviews.add_method("GET", integration, **iam_auth),
            reviews.add_resource("openapi.json").add_method("GET", integration, **iam_auth),
        ]
        item = reviews.add_resource("{id}")
        methods.append(item.add_method("GET", integration, **iam_auth, **by_id))
        methods.append(item.add_resource("resolution").add_method("POST", integration, **iam_auth, **by_id))
        # What an operator role attaches: execute-api:Invoke on these methods of this stage only.
        policy = iam.ManagedPolicy(
            self,
            "OperatorPolicy",
            description="Sluice: list and resolve human review items (the operator routes)",
            statements=[
                iam.PolicyStatement(
                    actions=["execute-api:Invoke"],
                    # A path parameter is `*` in an execute-api ARN (the ARN names the request's
                    # path, not the resource template): `/v1/reviews/{id}` would match nothing.
                    # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html
                    resources=[
                        api.arn_for_execute_api(
                            method.http_method,
                            re.sub(r"\{[^}/]+\}", "*", method.resource.path),
                            api.deployment_stage.stage_name,
                        )
                        for method in methods
                    ],
                )
            ],
        )
        stack = Stack.of(self)
        api_id = stack.get_logical_id(api.node.default_child)  # type: ignore[arg-type]
        stage_id = stack.get_logical_id(api.deployment_stage.node.default_child)  # type: ignore[arg-type]
        for method in methods:
            if "{" not in method.resource.path:
                continue
            arn = re.sub(r"\{[^}/]+\}", "*", method.resource.path)
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
                f"<{api_id}>/<{stage_id}>/{method.http_method}{arn}]",
                "`*` stands for the path parameter (a review id): execute-api ARNs name request paths",
            )
        return policy
