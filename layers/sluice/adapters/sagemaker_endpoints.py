"""Instances an endpoint runs now, per variant (DescribeEndpoint's CurrentInstanceCount)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class SageMakerInstanceCounts:
    def __init__(self, client: Any) -> None:
        self._client = client

    def running(self, endpoint_name: str) -> dict[str, int]:
        try:
            endpoint = self._client.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException":  # no such endpoint
                raise LookupError(endpoint_name) from error
            raise
        return {
            variant["VariantName"]: int(variant.get("CurrentInstanceCount", 0))
            for variant in endpoint.get("ProductionVariants", [])
        }
