"""boto3 clients for the adapters, created once per cold start.

Clients find local services through boto3's standard variables (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME), so nothing here knows whether it runs in AWS or locally.
"""

from __future__ import annotations

from typing import Any


def client(service: str, **config: Any) -> Any:
    import boto3  # lazy: a handler pays for boto3 only when it first talks to AWS
    from botocore.config import Config

    return boto3.client(service, config=Config(**config) if config else None)


def sagemaker_runtime_client(*, time_budget_s: float, max_attempts: int) -> Any:
    """InvokeEndpoint must answer within the route's budget: the read timeout is that budget."""
    return client(
        "sagemaker-runtime",
        read_timeout=time_budget_s,
        connect_timeout=min(2.0, time_budget_s),
        retries={"mode": "standard", "total_max_attempts": max_attempts},
    )
