"""`async_result`: SageMaker's success and error notifications (SNS → SQS) finish the jobs.

Each notification names the inference's input in S3; the manifest next to it lists the jobs in
payload order. A success writes each job's output, an error fails every job of the inference
with ASYNC_INFERENCE_FAILED (SageMaker's reason may quote the model's message, so it is not
copied). Finishing is a conditional write and publishing is once per job, so a notification
delivered twice changes nothing.

Each finished job is metered (tenant, route, variant, model version, model time, bytes, and
tokens for generative routes) and its reservation settled, or released when it failed, once
(`sluice.cost.job_accounting`). Model time comes from the notification: see `model_ms`.

Two finishers can meet: a notification and the sweeper (which finishes a job whose notification
is late), or two deliveries of one notification. Only the one whose write made the job final
announces it at once; the other finds it final under another writer's announcement and leaves
it to that writer, unless it is still unannounced `SETTLE` later (that writer died between its
write and its event): then it announces it. Announcing at once from both sides would repeat the
event whenever they overlap.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict

from sluice.cost.job_accounting import FinishedJob, JobAccounting
from sluice.cost.metering import InferenceUsage
from sluice.cost.tokens import count_tokens
from sluice.errors import ModelFailed
from sluice.guardrails.errors import ReviewNotQueued
from sluice.guardrails.guard import Guarded, OutputContext, OutputGuard
from sluice.jobs.async_endpoint import Manifest, manifest_key, split_s3_uri
from sluice.jobs.models import ErrorDetail, Job, JobStatus, utc_now
from sluice.jobs.ports import BatchTracker, JobStore
from sluice.jobs.worker import unannounced
from sluice.observability import logger, metrics
from sluice.observability.correlation import correlated
from sluice.ports import EventPublisher, Objects
from sluice.routing.model_io import decode
from sluice.routing.table import RouteSource, RouteTarget, Served

FAILED_CODE = "ASYNC_INFERENCE_FAILED"
# How long a job another finisher made final is left to it to announce (far below the results
# queue's visibility timeout, so a redelivered notification announces it if that finisher died).
SETTLE = timedelta(seconds=10)


class FinishedElsewhere(RuntimeError):
    """Jobs another finisher made final moments ago and has not announced yet: retried later."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")
    inputLocation: str  # SageMaker's field names, as published
    endpointName: str | None = None


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")
    outputLocation: str | None = None


class AsyncNotification(BaseModel):
    """The body SageMaker publishes to the success and error topics (the fields Sluice reads)."""

    model_config = ConfigDict(extra="ignore")
    invocationStatus: str
    inferenceId: str
    requestParameters: _Request
    responseParameters: _Response = _Response()
    # When SageMaker received the request and when its result was written (absent in the
    # notifications the sweeper makes up for lost ones).
    receivedTime: datetime | None = None
    eventTime: datetime | None = None

    def model_ms(self) -> float | None:
        """The inference's time on the endpoint, from SageMaker's own timestamps.

        SageMaker reports no per-request model time for asynchronous inferences (ModelLatency is
        a CloudWatch metric aggregated per minute and variant); the notification's `eventTime`
        minus `receivedTime` is the closest real figure. Its error is one-sided: it includes the
        request's time in the endpoint's backlog (waiting for a free instance, or for the first
        instance to start when the endpoint was scaled to zero) and the S3 download and upload,
        so it over-states model time; charges made from it never under-charge. The bill itself
        is attributed by instance time, not by this (sluice.cost.attribution).
        """
        if self.receivedTime is None or self.eventTime is None:
            return None
        return max(0.0, (self.eventTime - self.receivedTime).total_seconds() * 1000)


class AsyncResults:
    def __init__(
        self,
        *,
        routes: RouteSource,
        jobs: JobStore,
        objects: Objects,
        events: EventPublisher,
        batches: BatchTracker | None = None,
        accounting: JobAccounting | None = None,
        clock: Callable[[], datetime] = utc_now,
        guard: OutputGuard | None = None,
    ) -> None:
        # The routes' output guardrails (sluice.guardrails), as in the worker.
        self._guard = guard
        self._routes = routes
        self._jobs = jobs
        self._objects = objects
        self._events = events
        self._batches = batches
        self._accounting = accounting
        self._clock = clock

    def handle(self, notification: AsyncNotification) -> None:
        """Finish the inference's jobs; raises (so SQS redelivers) on anything transient, and
        `FinishedElsewhere` for jobs another finisher is announcing (see the module's notes)."""
        bucket, input_key = split_s3_uri(notification.requestParameters.inputLocation)
        manifest = Manifest.model_validate_json(self._objects.get(bucket, manifest_key(input_key)))
        route = self._routes.current().resolve(manifest.route)
        variant = route.production_variants[0]
        served = Served(
            route=route.name,
            endpoint=notification.requestParameters.endpointName or route.endpoint_name,
            variant=variant.name,
            model_version=variant.model_version or None,
        )
        finished: list[Job]
        output: Any = None
        announcement = uuid.uuid4().hex
        output_location = notification.responseParameters.outputLocation
        if notification.invocationStatus == "Completed" and output_location:
            finished, output = self._succeed(
                manifest,
                served,
                route,
                output_location,
                announcement,
                lambda: self._inputs(bucket, input_key, route),
            )
        else:
            metrics.add_metric(name="AsyncInferencesFailed", unit=MetricUnit.Count, value=1)
            logger.warning("async inference failed", extra={"inference_id": notification.inferenceId})
            error = ErrorDetail(code=FAILED_CODE, message="The asynchronous inference failed on the endpoint")
            finished = [
                self._jobs.fail(job_id, error=error, served=served, announcement=announcement)
                for job_id in manifest.job_ids
            ]
        try:
            self._account(notification, route, finished, output, bucket, input_key)
        except Exception:
            # The jobs are done: metering that cannot be written must not undo that (as in the
            # worker). Their reservations stand, charged at the estimate.
            logger.exception("metering failed", extra={"jobs": len(finished)})
        for job in finished:
            # Each job's line carries its own request's correlation id (from its record).
            with correlated(job.correlation_id):
                logger.info(
                    "job finished", extra={"job_id": job.id, "route": job.route, "status": job.status}
                )
        settled = self._clock() - SETTLE
        # Jobs of an uploaded file are announced by their batch, never one by one: not deferred.
        # A micro-batch announced under one marker does not mark its jobs: the marker is asked last.
        theirs = [
            job
            for job in finished
            if job.announcement not in (None, announcement)
            and not (job.event_published or job.batch_id)
            and job.updated_at > settled
            and not self._announced(job.announcement)
        ]
        unpublished = unannounced(
            [job for job in finished if job not in theirs],
            jobs=self._jobs,
            events=self._events,
            announcement=announcement,
        )
        if self._batches is not None:
            self._batches.record([job for job in finished if job.batch_id])
        if unpublished:
            raise RuntimeError(f"InferenceCompleted not published for {len(unpublished)} jobs")
        if theirs:
            raise FinishedElsewhere(f"{len(theirs)} jobs are being announced by another finisher")

    def _announced(self, marker: str | None) -> bool:
        try:
            return marker is not None and self._jobs.is_announced(marker)
        except Exception:
            return False  # unknown: defer, and look again on the redelivery

    def _succeed(
        self,
        manifest: Manifest,
        served: Served,
        route: RouteTarget,
        location: str,
        announcement: str,
        inputs: Callable[[], list[dict[str, Any]]],
    ) -> tuple[list[Job], Any]:
        bucket, key = split_s3_uri(location)
        body = json.loads(self._objects.get(bucket, key))
        try:
            predictions = decode(route.wire_format, body, expected=len(manifest.job_ids))
        except ModelFailed as failure:
            detail = ErrorDetail(code=failure.code, message=failure.message)
            return [
                self._jobs.fail(job_id, error=detail, served=served, announcement=announcement)
                for job_id in manifest.job_ids
            ], None
        if predictions.model_version:
            served = served.model_copy(update={"model_version": predictions.model_version})
        metrics.add_metric(name="AsyncInferencesSucceeded", unit=MetricUnit.Count, value=1)
        guarded = self._guarded(manifest, served, route, predictions.outputs, inputs)
        jobs = []
        for index, (job_id, output) in enumerate(zip(manifest.job_ids, predictions.outputs, strict=True)):
            checked = guarded[index] if guarded is not None else None
            if checked is not None and checked.block is not None:
                detail = ErrorDetail(code=checked.block.code, message=checked.block.message)
                jobs.append(self._jobs.fail(job_id, error=detail, served=served, announcement=announcement))
                continue
            jobs.append(
                self._jobs.succeed(
                    job_id,
                    served=served,
                    output=checked.output if checked is not None else output,
                    announcement=announcement,
                    guardrails=checked.report if checked is not None else None,
                )
            )
        return jobs, predictions.outputs

    def _guarded(
        self,
        manifest: Manifest,
        served: Served,
        route: RouteTarget,
        outputs: list[dict[str, Any]],
        inputs: Callable[[], list[dict[str, Any]]],
    ) -> list[Guarded] | None:
        """Every output checked before any job is written: a review the queue refused raises, and
        the redelivered notification checks them again (review items are one per job id)."""
        if self._guard is None:
            return None
        jobs = {job.id: job for job in self._jobs.get_many(manifest.job_ids)}
        instances = inputs()
        guarded = []
        for index, (job_id, output) in enumerate(zip(manifest.job_ids, outputs, strict=True)):
            job = jobs.get(job_id)
            guarded.append(
                self._guard.check(
                    route.name,
                    route.output_policy,
                    output,
                    OutputContext(
                        job_id=job_id,
                        tenant=job.tenant if job is not None else "unknown",
                        input=instances[index] if index < len(instances) else {},
                        variant=served.variant,
                        model_version=served.model_version,
                        correlation_id=job.correlation_id if job is not None else None,
                    ),
                    pii_allow=route.pii_allow,
                    pii_operators=route.pii_operators,
                )
            )
        if any(item.review_failed for item in guarded):
            raise ReviewNotQueued("The review queue is unavailable; the notification is retried")
        return guarded

    def _inputs(self, bucket: str, input_key: str, route: RouteTarget) -> list[dict[str, Any]]:
        """The (redacted) model inputs of the inference, in payload order."""
        payload = json.loads(self._objects.get(bucket, input_key))
        return list(payload.get("instances", [payload])) if route.wire_format != "hf-tgi" else [payload]

    def _account(
        self,
        notification: AsyncNotification,
        route: RouteTarget,
        finished: list[Job],
        outputs: list[dict[str, Any]] | None,
        bucket: str,
        input_key: str,
    ) -> None:
        """Meter the inference's jobs and settle their reservations (released if they failed)."""
        if self._accounting is None or not finished:
            return
        # A job another finisher failed first stays failed (final states are written once).
        succeeded = outputs is not None and any(job.status is JobStatus.SUCCEEDED for job in finished)
        instances: list[dict[str, Any]] = []
        if succeeded:
            # The (redacted) model input, read for its size and, on generative routes, its prompt.
            payload = json.loads(self._objects.get(bucket, input_key))
            instances = payload.get("instances", [payload]) if route.wire_format != "hf-tgi" else [payload]
        measured = notification.model_ms()
        # One inference served the micro-batch: its time is shared by its jobs, as in the worker.
        share = (measured if measured is not None else self._accounting.estimated_model_ms(route.name)) / len(
            finished
        )
        accounted = []
        for index, job in enumerate(finished):
            usage = None
            if job.status is JobStatus.SUCCEEDED and outputs is not None and index < len(instances):
                tokens = count_tokens(route.wire_format, instances[index], outputs[index])
                usage = InferenceUsage(
                    tenant=job.tenant,
                    route=route.name,
                    variant=job.variant or "",
                    model_version=job.model_version or "",
                    model_ms=share,
                    bytes_in=len(json.dumps(instances[index], separators=(",", ":")).encode()),
                    bytes_out=len(json.dumps(outputs[index], separators=(",", ":")).encode()),
                    tokens_in=tokens.tokens_in,
                    tokens_out=tokens.tokens_out,
                    tokens_estimated=tokens.estimated,
                    at=notification.eventTime or job.updated_at,
                )
            accounted.append(
                FinishedJob(
                    job_id=job.id, tenant=job.tenant, route=job.route, accepted_at=job.created_at, usage=usage
                )
            )
        self._accounting.account(accounted)


def handle_async_results(
    event: dict[str, Any], context: Any, results: AsyncResults
) -> PartialItemFailureResponse:
    def record_handler(record: SQSRecord) -> None:
        # Raw message delivery (infra/async_endpoint.py): the body is SageMaker's notification itself.
        results.handle(AsyncNotification.model_validate_json(record.body))

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
