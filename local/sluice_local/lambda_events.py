"""Builds the events Lambda would receive: API Gateway REST proxy events and SQS batches."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Mapping
from typing import Any


def api_gateway_event(
    *,
    method: str,
    path: str,
    resource: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes | None,
    path_parameters: dict[str, str] | None,
    api_key: str | None,
    api_key_id: str | None,
    source_ip: str,
    stage: str,
    iam_identity: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`iam_identity`: the SigV4 signer's fields (AWS_IAM routes), as API Gateway fills them in."""
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": dict(query) or None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "identity": {
                "apiKey": api_key,
                "apiKeyId": api_key_id,
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent"),
                **(iam_identity or {}),
            },
        },
        # The stack declares every media type binary (infra/rest_api.py): the client's bytes,
        # base64-encoded, never text API Gateway would have repaired.
        "body": base64.b64encode(body).decode("ascii") if body else None,
        "isBase64Encoded": bool(body),
    }


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """SQS ReceiveMessage results in the shape of Lambda's SQS event source."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }
