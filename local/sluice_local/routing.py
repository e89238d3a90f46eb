"""Routing on moto: the live route table parameter, the breakers table and the async inference path.

The same shape as the stack: the route table as an SSM parameter (edit it to shift weights; the
functions pick it up within `route_table_max_age_seconds`), a DynamoDB table of circuit breakers,
and for asynchronous endpoints an S3 bucket (inputs and outputs), a success and an error SNS
topic, and the SQS queue subscribed to both (raw delivery) that feeds `async_result`. Safe to repeat.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from sluice.config import DeploymentConfig
from sluice_local.provision import (
    PREFIX,
    LocalResources,
    _table,
    dead_lettered_queue,
    ensure_bucket,
    route_table,
)

ROUTE_TABLE_PARAMETER = f"/{PREFIX}/route-table"
ASYNC_BUCKET = f"{PREFIX}-async-inference"
SUCCESS_TOPIC = f"{PREFIX}-async-success"
ERROR_TOPIC = f"{PREFIX}-async-error"
ACCOUNT = "123456789012"  # moto's account
STANDIN_CHAT = Path(__file__).with_name("standin_chat.py")
# SSM's standard tier holds 4 KB; a table with several routes and variants needs the advanced one.
_STANDARD_TIER_BYTES = 4096


def provision_routing(
    config: DeploymentConfig,
    resources: LocalResources,
    *,
    dynamodb: Any,
    s3: Any,
    sns: Any,
    sqs: Any,
    ssm: Any,
) -> LocalResources:
    bucket = ensure_bucket(s3, ASYNC_BUCKET)
    success = sns.create_topic(Name=SUCCESS_TOPIC)["TopicArn"]
    error = sns.create_topic(Name=ERROR_TOPIC)["TopicArn"]
    queue_url, queue_arn, _ = dead_lettered_queue(
        sqs,
        f"{PREFIX}-async-results",
        visibility_timeout_seconds=config.worker_visibility_timeout_seconds,
        max_receive_count=config.async_results_max_receive_count,
    )
    for topic in (success, error):
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )
    resources = dataclasses.replace(
        resources,
        route_table_parameter=ROUTE_TABLE_PARAMETER,
        breakers_table=_table(dynamodb, f"{PREFIX}-breakers", ttl_attribute="expires_at"),
        async_bucket=bucket,
        async_success_topic_arn=success,
        async_error_topic_arn=error,
        async_results_queue_url=queue_url,
        async_results_queue_arn=queue_arn,
    )
    table = route_table(config, resources).model_dump_json()
    ssm.put_parameter(
        Name=ROUTE_TABLE_PARAMETER,
        Value=table,
        Type="String",
        Overwrite=True,
        Tier="Advanced" if len(table.encode()) > _STANDARD_TIER_BYTES else "Standard",
    )
    return resources


def endpoint_spec(
    config: DeploymentConfig, *, model_dir: Path, max_batch_size: int | None, region: str = "us-east-1"
) -> str:
    """The local endpoints (`sluice_local.variant_endpoint`) for the routes of `config`.

    Each variant hosts its own model: the one its config names (`endpoint.model` or the variant's
    `model`, staged as its container sees it, sluice_local.byo), else the trained intent model in
    `model_dir`; an `hf-tgi` route gets the labelled stand-in, since no LLM runs offline.
    """
    from sluice_local.byo import hosting_of
    from sluice_local.provision import endpoint_name

    endpoints = []
    for route in config.routes:
        hosting = route.endpoint
        variants = []
        for variant in hosting.production_variants:
            if hosting.wire_format == "hf-tgi":
                variants.append(
                    {"name": variant.name, "model_dir": str(model_dir), "handler": str(STANDIN_CHAT)}
                )
                continue
            handler, directory = hosting_of(route.name, variant.name, hosting.model_of(variant), model_dir)
            variants.append({"name": variant.name, "model_dir": str(directory), "handler": str(handler)})
        endpoints.append({"name": endpoint_name(route.name), "variants": variants})
    spec: dict[str, Any] = {
        "endpoints": endpoints,
        "asynchronous": {
            "output_bucket": ASYNC_BUCKET,
            "success_topic_arn": f"arn:aws:sns:{region}:{ACCOUNT}:{SUCCESS_TOPIC}",
            "error_topic_arn": f"arn:aws:sns:{region}:{ACCOUNT}:{ERROR_TOPIC}",
        },
    }
    if max_batch_size:
        spec["max_batch_size"] = max_batch_size
    return json.dumps(spec)
