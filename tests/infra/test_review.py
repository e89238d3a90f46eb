"""Human review in the template: the queue (KMS, TLS only, DLQ with an alarm that acts), the
table (KMS, PITR, indexes by state), IAM-authorized operator methods (never an API key), the
intake subscription, the operators' policy and least-privilege grants."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from sluice.adapters.review_table import BY_STATE_INDEX, BY_STATE_ROUTE_INDEX


def _one(template: Template, kind: str, prefix: str, *, without: str = "\0") -> tuple[str, dict[str, Any]]:
    [(name, resource)] = [
        (name, resource)
        for name, resource in template.find_resources(kind).items()
        if name.startswith(prefix) and without not in name
    ]
    return name, resource


def test_the_review_queue_is_kms_encrypted_tls_only_and_dead_letters_after_five_receives(
    template: Template,
) -> None:
    queue_name, queue = _one(template, "AWS::SQS::Queue", "ReviewQueue", without="DeadLetters")
    dlq_name, dlq = _one(template, "AWS::SQS::Queue", "ReviewQueueDeadLetters")
    for resource in (queue, dlq):
        assert "KmsMasterKeyId" in resource["Properties"]
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_name, "Arn"]},
        "maxReceiveCount": 5,
    }
    # enforce_ssl: a Deny on aws:SecureTransport false, on both queues
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    denied = {
        ref["Ref"]
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for ref in policy["Properties"]["Queues"]
    }
    assert {queue_name, dlq_name} <= denied


def test_a_dead_letter_in_the_review_queue_raises_an_alarm_that_notifies_operators(
    template: Template,
) -> None:
    dlq_name, _ = _one(template, "AWS::SQS::Queue", "ReviewQueueDeadLetters")
    _, alarm = _one(template, "AWS::CloudWatch::Alarm", "ReviewQueueDeadLettersAlarm")
    properties = alarm["Properties"]
    assert properties["Threshold"] == 0
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_name, "QueueName"]}}
    ]
    assert properties["AlarmActions"], "the review DLQ alarm has no action"


def test_outputs_that_could_not_be_queued_for_review_are_alarmed_per_function(template: Template) -> None:
    alarms = [
        alarm["Properties"]
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ReviewsNotQueued"
    ]
    services = {properties["Dimensions"][0]["Value"] for properties in alarms}
    assert services == {"sluice-api", "sluice-worker", "sluice-async_result", "sluice-sweeper"}
    assert all(properties["AlarmActions"] for properties in alarms)


def test_the_review_table_is_kms_encrypted_with_pitr_and_lists_by_state(template: Template) -> None:
    _, table = _one(template, "AWS::DynamoDB::Table", "ReviewTable")
    properties = table["Properties"]
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert "KMSMasterKeyId" in properties["SSESpecification"]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    indexes = {index["IndexName"]: index["KeySchema"] for index in properties["GlobalSecondaryIndexes"]}
    assert indexes == {
        BY_STATE_INDEX: [
            {"AttributeName": "review_state", "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        BY_STATE_ROUTE_INDEX: [
            {"AttributeName": "state_route", "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
    }


def test_operator_routes_need_iam_authorization_and_no_api_key(template: Template) -> None:
    methods = [m["Properties"] for m in template.find_resources("AWS::ApiGateway::Method").values()]
    operator_methods = [m for m in methods if m["AuthorizationType"] == "AWS_IAM"]
    # list, openapi.json, one item, its resolution: all under /v1/reviews, none keyed
    assert sorted(m["HttpMethod"] for m in operator_methods) == ["GET", "GET", "GET", "POST"]
    assert all("reviews" in m["ResourceId"]["Ref"] for m in operator_methods)
    assert not any(m.get("ApiKeyRequired") for m in operator_methods)
    # And the tenant routes take an API key, never IAM
    keyed = [m for m in methods if m.get("ApiKeyRequired")]
    assert keyed
    assert {m["AuthorizationType"] for m in keyed} == {"NONE"}
    assert not any("reviews" in m["ResourceId"]["Ref"] for m in keyed)


def test_operators_get_a_managed_policy_for_exactly_the_operator_methods(template: Template) -> None:
    _, policy = _one(template, "AWS::IAM::ManagedPolicy", "ReviewOperatorPolicy")
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke"
    arns = str(statement["Resource"])
    for path in ("/GET/v1/reviews'", "/GET/v1/reviews/*'", "/POST/v1/reviews/*/resolution'"):
        assert path in arns
    assert "/v1/inferences" not in arns


def test_intake_is_subscribed_to_the_review_queue_with_partial_batch_failures(template: Template) -> None:
    queue_name, _ = _one(template, "AWS::SQS::Queue", "ReviewQueue", without="DeadLetters")
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_name, "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
        },
    )


def test_intake_may_only_put_review_items_and_the_api_may_only_send_them(template: Template) -> None:
    table_name, _ = _one(template, "AWS::DynamoDB::Table", "ReviewTable")
    queue_name, _ = _one(template, "AWS::SQS::Queue", "ReviewQueue", without="DeadLetters")
    policies = template.find_resources("AWS::IAM::Policy")

    def actions_on(role_prefix: str, resource: str) -> set[str]:
        found: set[str] = set()
        for name, policy in policies.items():
            if not name.startswith(role_prefix):
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if resource in str(statement["Resource"]):
                    action = statement["Action"]
                    found |= set(action if isinstance(action, list) else [action])
        return found

    assert actions_on("ReviewIntakeFunction", table_name) == {"dynamodb:PutItem"}
    assert actions_on("ReviewsFunction", table_name) == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    }
    assert "sqs:SendMessage" in actions_on("ApiFunction", queue_name)
    assert not any(action.startswith("dynamodb") for action in actions_on("ApiFunction", table_name))
    template.has_output("OperatorPolicyArn", Match.any_value())
