"""The `worker` function wired to every route queue, with partial batch failure reporting."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk.aws_lambda_event_sources import SqsEventSource

from infra.functions import SluiceFunction
from infra.route_queue import RouteQueue
from sluice.config import RouteConfig


def subscribe_worker(worker: SluiceFunction, route: RouteConfig, queue: RouteQueue) -> None:
    # SQS caps a batch at 10 without a batching window; larger model batches need one.
    window = Duration.seconds(1) if route.batch_size > 10 else None
    worker.function.add_event_source(
        SqsEventSource(
            queue.queue,
            batch_size=route.batch_size,
            max_batching_window=window,
            report_batch_item_failures=True,
            max_concurrency=route.max_worker_concurrency,
        )
    )
