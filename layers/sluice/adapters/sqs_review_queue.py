"""The review queue on SQS: one message per review item, its ids as attributes."""

from __future__ import annotations

from typing import Any

from sluice.review.models import ReviewRequest


class SqsReviewQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def submit(self, request: ReviewRequest) -> None:
        attributes = {
            "review_id": {"DataType": "String", "StringValue": request.review_id},
            "route": {"DataType": "String", "StringValue": request.route},
        }
        if request.correlation_id:
            attributes["correlation_id"] = {"DataType": "String", "StringValue": request.correlation_id}
        self._client.send_message(
            QueueUrl=self._queue_url, MessageBody=request.model_dump_json(), MessageAttributes=attributes
        )
