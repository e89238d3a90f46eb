"""Telling DynamoDB's "a condition did not hold" apart from real failures, for every adapter."""

from __future__ import annotations

from botocore.exceptions import ClientError


def is_condition_failure(error: ClientError) -> bool:
    """A single-item write whose ConditionExpression did not hold."""
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


def is_cancelled_by_condition(error: ClientError) -> bool:
    """A TransactWriteItems call cancelled because a condition of one of its items did not hold."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    if reasons:
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return "ConditionalCheckFailed" in str(error)  # moto may leave the reasons out
