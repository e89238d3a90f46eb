"""The sweeper: finishes asynchronous jobs whose SageMaker notification never arrived.

SNS delivers SageMaker's notifications at least once, but a notification can still be lost
(a subscription or key misconfigured for a while, a queue purged). Every few minutes the
sweeper reads the jobs still running on an asynchronous endpoint (a sparse index: only those
carry `async_route`) that were handed over more than `grace` ago, and for each inference:
its output in S3 means it completed, so the job is finished from it exactly as `async_result`
would; no output once SageMaker can no longer produce one (the request's time to live in the
endpoint's queue plus its invocation timeout, plus `grace`) means it failed. Finishing is the
same conditional write as `async_result`'s, so a notification arriving late changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from sluice.jobs.async_endpoint import split_s3_uri
from sluice.jobs.async_results import AsyncNotification, AsyncResults, FinishedElsewhere
from sluice.jobs.models import Job
from sluice.jobs.ports import JobStore
from sluice.observability import logger, metrics
from sluice.ports import Objects
from sluice.routing.table import RouteSource

# SageMaker keeps a queued asynchronous request this long by default (InvokeEndpointAsync's
# RequestTTLSeconds, which Sluice does not set).
DEFAULT_REQUEST_TTL = timedelta(hours=6)


@dataclass(frozen=True)
class Swept:
    completed: int  # inferences finished from their output
    failed: int  # inferences that can no longer produce one
    waiting: int  # overdue for a notification, still within SageMaker's time


class AsyncSweeper:
    def __init__(
        self,
        *,
        routes: RouteSource,
        jobs: JobStore,
        objects: Objects,
        results: AsyncResults,
        clock: Callable[[], datetime],
        grace: timedelta = timedelta(minutes=5),
        request_ttl: timedelta = DEFAULT_REQUEST_TTL,
    ) -> None:
        self._routes = routes
        self._jobs = jobs
        self._objects = objects
        self._results = results
        self._clock = clock
        self._grace = grace
        self._request_ttl = request_ttl

    def sweep(self) -> Swept:
        now = self._clock()
        completed = failed = waiting = 0
        for route in self._routes.current().routes.values():
            if route.mode != "async":
                continue
            # After this, SageMaker can no longer write an output for the request.
            given_up = now - self._request_ttl - timedelta(seconds=route.invocation_timeout_seconds or 0)
            for (input_location, output_location), jobs in _by_inference(
                self._jobs.handed_over_before(route.name, now - self._grace)
            ).items():
                bucket, key = split_s3_uri(output_location)
                if self._objects.exists(bucket, key):
                    status, completed = "Completed", completed + 1
                elif min(job.handed_over_at or 0 for job in jobs) < given_up.timestamp():
                    status, failed = "Failed", failed + 1
                else:
                    waiting += 1
                    continue
                logger.warning(
                    "async notification lost; finished by the sweeper",
                    extra={"route": route.name, "jobs": len(jobs), "status": status},
                )
                self._finish(
                    AsyncNotification.model_validate(
                        {
                            "invocationStatus": status,
                            "inferenceId": jobs[0].id,
                            "requestParameters": {
                                "inputLocation": input_location,
                                "endpointName": jobs[0].endpoint,
                            },
                            "responseParameters": {
                                "outputLocation": output_location if status == "Completed" else None
                            },
                        }
                    )
                )
        metrics.add_metric(name="AsyncJobsSwept", unit=MetricUnit.Count, value=completed + failed)
        return Swept(completed=completed, failed=failed, waiting=waiting)

    def _finish(self, notification: AsyncNotification) -> None:
        try:
            self._results.handle(notification)
        except FinishedElsewhere:
            # The notification came after all and its handler is announcing the jobs: theirs.
            logger.info(
                "async jobs finished by their notification", extra={"inference_id": notification.inferenceId}
            )
        except Exception:
            # One inference that cannot be finished now must not stop the sweep of the others.
            logger.exception(
                "async jobs not finished by the sweeper", extra={"inference_id": notification.inferenceId}
            )


def _by_inference(jobs: list[Job]) -> dict[tuple[str, str], list[Job]]:
    """One asynchronous inference serves a micro-batch of jobs: finish them together."""
    grouped: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in jobs:
        if job.async_input and job.async_output:
            grouped[(job.async_input, job.async_output)].append(job)
    return grouped
