"""The queued path: claim jobs, invoke the model once per micro-batch, record every outcome.

A job's record in DynamoDB is its single source of truth. Claiming it is a conditional write,
so a message SQS delivers twice finds the job running (retried later) or final (acknowledged
without touching the model). That gives the "one invocation per job" guarantee with the
table we already have; a second idempotency table would hold the same state twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from sluice.config import BreakerConfig
from sluice.cost.budgets import BudgetGuard
from sluice.cost.metering import InferenceUsage, Meter
from sluice.cost.tokens import count_tokens
from sluice.errors import SluiceError, UnknownRoute
from sluice.events import Event, InferenceCompleted
from sluice.guardrails.errors import ReviewNotQueued
from sluice.guardrails.guard import Guarded, OutputContext, OutputGuard
from sluice.jobs.async_endpoint import AsyncInference
from sluice.jobs.models import ErrorDetail, Job, JobMessage, Submitted, utc_now
from sluice.jobs.ports import BatchTracker, ClaimOutcome, JobStore
from sluice.observability import logger, metrics
from sluice.observability.signals import ServedBy, Signals
from sluice.ports import EventPublisher
from sluice.routing.breaker import CircuitBreaker, InMemoryBreakerStore
from sluice.routing.invoker import ModelAnswer, ResilientInvoker, invoke_model
from sluice.routing.ports import ModelEndpoint
from sluice.routing.table import RouteSource, RouteTable, RouteTarget, Served, VariantTarget
from sluice.routing.variants import assign


@dataclass(frozen=True)
class Delivery:
    """One SQS message carrying a job."""

    message_id: str
    receive_count: int
    message: JobMessage


@dataclass(frozen=True)
class Outcome:
    """What happens to the message: acknowledged, or left for SQS to redeliver."""

    retry: bool
    reason: str = ""


DONE = Outcome(retry=False)
# A job whose record could not be read or written: it comes back, its neighbours do not.
JOB_STORE_UNAVAILABLE = "JOB_STORE_UNAVAILABLE"


class JobWorker:
    def __init__(
        self,
        *,
        routes: RouteSource,
        jobs: JobStore,
        endpoint: ModelEndpoint,
        events: EventPublisher,
        lease_seconds: int,
        clock: Callable[[], datetime] = utc_now,
        batches: BatchTracker | None = None,
        invoker: ResilientInvoker | None = None,
        async_inference: AsyncInference | None = None,
        budget: BudgetGuard | None = None,
        meter: Meter | None = None,
        signals: Signals | None = None,
        guard: OutputGuard | None = None,
    ) -> None:
        # The routes' output guardrails (sluice.guardrails): every output checked before it is stored.
        self._guard = guard
        # Operational metrics: queue age (read by sluice.jobs.sqs_handler), micro-batches, confidence.
        self.signals = signals
        self._routes = routes
        # Tenant budgets (sluice.cost): an API job reserved at submission is settled here.
        self._budget = budget
        self._meter = meter
        self._invoker = invoker or ResilientInvoker(CircuitBreaker(InMemoryBreakerStore(), BreakerConfig()))
        self._async = async_inference
        self._jobs = jobs
        self._endpoint = endpoint
        self._events = events
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._batches = batches

    def run(self, deliveries: Iterable[Delivery]) -> dict[str, Outcome]:
        """Process a batch; returns an outcome per message id."""
        outcomes: dict[str, Outcome] = {}
        first_delivery: dict[str, str] = {}
        claimed: dict[str, list[Delivery]] = defaultdict(list)
        duplicates: list[Delivery] = []
        firsts: list[Delivery] = []
        for delivery in deliveries:
            job_id = delivery.message.job_id
            if job_id in first_delivery:
                duplicates.append(delivery)  # same job twice in one batch: settle once
                continue
            first_delivery[job_id] = delivery.message_id
            firsts.append(delivery)
            outcome = self._claim(delivery)
            if outcome is None:
                claimed[delivery.message.route].append(delivery)
            else:
                outcomes[delivery.message_id] = outcome

        routes = self._routes.current() if claimed else None
        for route_name, group in claimed.items():
            assert routes is not None
            outcomes.update(self._serve_route(routes, route_name, group))
        self._record_batches(firsts, outcomes)
        for delivery in duplicates:
            outcomes[delivery.message_id] = outcomes[first_delivery[delivery.message.job_id]]
        return outcomes

    def _record_batches(self, deliveries: list[Delivery], outcomes: dict[str, Outcome]) -> None:
        """Jobs from uploaded files also count towards their batch; until they have, they retry."""
        settled = [
            d
            for d in deliveries
            if d.message.batch_id and not outcomes.get(d.message_id, Outcome(retry=True)).retry
        ]
        if self._batches is None or not settled:
            return
        try:
            # Re-read the records: the batch fields and the `batch_recorded` flag live there.
            jobs = [
                job for job in self._jobs.get_many([d.message.job_id for d in settled]) if job.status.is_final
            ]
            self._batches.record(jobs)
        except Exception:
            logger.exception("batch accounting failed", extra={"jobs": len(settled)})
            for delivery in settled:
                outcomes[delivery.message_id] = Outcome(retry=True, reason="BATCH_RECORD_FAILED")

    def _claim(self, delivery: Delivery) -> Outcome | None:
        job_id = delivery.message.job_id
        try:
            claim = self._jobs.claim(job_id, lease_seconds=self._lease_seconds, now=self._clock())
        except Exception:
            # The store failed for this job (throttled past botocore's retries, ...): this job
            # comes back, the rest of the batch goes on.
            logger.exception("job store unavailable", extra={"job_id": job_id})
            return Outcome(retry=True, reason=JOB_STORE_UNAVAILABLE)
        if claim.outcome is ClaimOutcome.CLAIMED:
            return None
        if claim.outcome is ClaimOutcome.FINAL and claim.job is not None:
            metrics.add_metric(name="RedeliveredFinalJobs", unit=MetricUnit.Count, value=1)
            return self._announce(claim.job)
        logger.warning("job not claimable", extra={"job_id": job_id, "claim": claim.outcome})
        return Outcome(retry=True, reason=f"job {claim.outcome}")

    def _serve_route(self, routes: RouteTable, route_name: str, group: list[Delivery]) -> dict[str, Outcome]:
        try:
            route = routes.resolve(route_name)
        except UnknownRoute as error:
            return {d.message_id: self._finish_failed(d, error, served=None) for d in group}
        # One model call serves one variant: group the jobs by the variant they were assigned.
        by_variant: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in group:
            by_variant[self._variant_of(route, delivery.message).name].append(delivery)
        outcomes: dict[str, Outcome] = {}
        size = route.model_batch_size
        for variant_name, members in by_variant.items():
            variant = route.variant_named(variant_name) or route.production_variants[0]
            for start in range(0, len(members), size):
                chunk = members[start : start + size]
                if route.mode == "async":
                    outcomes.update(self._submit_async(routes, route, variant, chunk))
                else:
                    outcomes.update(self._serve_chunk(routes, route, variant, chunk))
        return outcomes

    @staticmethod
    def _variant_of(route: RouteTarget, message: JobMessage) -> VariantTarget:
        """The variant assigned at submission, if the route still has it; else assign by the weights."""
        if message.variant and (variant := route.variant_named(message.variant)):
            return variant
        return assign(route, tenant=message.tenant, key=f"{message.tenant}\x1f{message.job_id}").variant

    def _serve_chunk(
        self, routes: RouteTable, route: RouteTarget, variant: VariantTarget, chunk: list[Delivery]
    ) -> dict[str, Outcome]:
        served = Served(route=route.name, endpoint=route.endpoint_name, variant=variant.name)
        first = chunk[0].message

        model_ms = 0.0

        def attempt(candidate: RouteTarget) -> ModelAnswer:
            nonlocal model_ms
            chosen = (
                variant
                if candidate is route
                else assign(candidate, tenant=first.tenant, key=first.job_id).variant
            )
            called = time.perf_counter()
            answer = invoke_model(self._endpoint, candidate, chosen, [d.message.input for d in chunk])
            # The call that answered: InvokeEndpoint reports no model time, so its round trip
            # stands for it (over by SageMaker's OverheadLatency and the network; see
            # docs/cost-model.md, "Model time").
            model_ms = (time.perf_counter() - called) * 1000
            return answer

        try:
            _, answer = self._invoker.call(routes, route, attempt)
        except SluiceError as error:
            if len(chunk) > 1 and not error.retryable:
                # One bad input must not fail its neighbours: serve them one by one.
                return {
                    k: v for d in chunk for k, v in self._serve_chunk(routes, route, variant, [d]).items()
                }
            return {d.message_id: self._settle_failure(route, d, error, served) for d in chunk}
        metrics.add_metric(name="ModelInvocations", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="JobsPerInvocation", unit=MetricUnit.Count, value=len(chunk))
        metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=len(chunk))
        served = answer.served.model_copy(update={"route": route.name})
        if self.signals is not None:
            self.signals.micro_batch(
                ServedBy(served.route, served.variant, served.model_version),
                size=len(chunk),
                model_ms=model_ms,
                outputs=answer.predictions.outputs,
            )
        announcement = uuid.uuid4().hex
        outcomes: dict[str, Outcome] = {}
        finished: list[tuple[Delivery, Job]] = []
        for d, output in zip(chunk, answer.predictions.outputs, strict=True):
            try:
                guarded = self._guarded(route, served, d.message, output)
            except SluiceError as error:
                # The output's personal-data scan could not finish (out of its time budget): it
                # is never stored unscanned; retried, and failed with the code once out of tries.
                outcomes[d.message_id] = self._settle_failure(route, d, error, served)
                continue
            if guarded is not None and guarded.review_failed:
                # Its review item is not queued: the job comes back (its model call is repeated)
                # rather than being settled without the review its route asks for.
                outcomes[d.message_id] = self._release_for_retry(d, ReviewNotQueued.code)
                continue
            if guarded is not None and guarded.block is not None:
                # Withheld: the job fails with the check's code (final, not retried), and is
                # in review when the route reviews.
                outcomes[d.message_id] = self._finish_failed(d, guarded.block, served=served)
                continue
            try:
                job = self._jobs.succeed(
                    d.message.job_id,
                    served=served,
                    output=guarded.output if guarded is not None else output,
                    announcement=announcement,
                    guardrails=guarded.report if guarded is not None else None,
                )
            except Exception:
                # Not recorded: the job keeps its lease and is served again once it has run out.
                logger.exception("job store unavailable", extra={"job_id": d.message.job_id})
                outcomes[d.message_id] = Outcome(retry=True, reason=JOB_STORE_UNAVAILABLE)
                continue
            finished.append((d, job))
        try:
            self._account(route, chunk, finished, served, answer, model_ms)
        except Exception:
            # The jobs are done: a meter or settlement that cannot be written must not send them
            # back (a redelivered final job is never metered again). The reservation stands.
            logger.exception("metering failed", extra={"jobs": len(chunk)})
        failed = unannounced(
            [job for _, job in finished], jobs=self._jobs, events=self._events, announcement=announcement
        )
        for d, job in finished:
            outcomes[d.message_id] = (
                Outcome(retry=True, reason="EVENT_PUBLISH_FAILED") if job.id in failed else DONE
            )
        return outcomes

    def _guarded(
        self, route: RouteTarget, served: Served, message: JobMessage, output: dict[str, Any]
    ) -> Guarded | None:
        if self._guard is None:
            return None
        return self._guard.check(
            route.name,
            route.output_policy,
            output,
            OutputContext(
                job_id=message.job_id,
                tenant=message.tenant,
                input=message.input,
                variant=served.variant,
                model_version=served.model_version,
                correlation_id=message.correlation_id,
            ),
            pii_allow=route.pii_allow,
            pii_operators=route.pii_operators,
        )

    def _release_for_retry(self, delivery: Delivery, reason: str) -> Outcome:
        try:
            self._jobs.release(delivery.message.job_id)
        except Exception:
            # Still leased: it is claimed again once the lease runs out, as after a crash.
            logger.exception("job store unavailable", extra={"job_id": delivery.message.job_id})
        return Outcome(retry=True, reason=reason)

    def _account(
        self,
        route: RouteTarget,
        chunk: list[Delivery],
        finished: list[tuple[Delivery, Job]],
        served: Served,
        answer: ModelAnswer,
        model_ms: float,
    ) -> None:
        """Meter the micro-batch (its call's time shared by its jobs) and settle API jobs' reservations."""
        if self._meter is None and self._budget is None:
            return
        share = model_ms / len(chunk)
        usages = []
        for d, output in zip(chunk, answer.predictions.outputs, strict=True):
            tokens = count_tokens(route.wire_format, d.message.input, output)
            usages.append(
                InferenceUsage(
                    tenant=d.message.tenant,
                    route=served.route,
                    variant=served.variant or "",
                    model_version=served.model_version or "",
                    model_ms=share,
                    bytes_in=len(json.dumps(d.message.input, separators=(",", ":")).encode()),
                    bytes_out=len(json.dumps(output, separators=(",", ":")).encode()),
                    tokens_in=tokens.tokens_in,
                    tokens_out=tokens.tokens_out,
                    tokens_estimated=tokens.estimated,
                )
            )
        if self._meter is not None:
            self._meter.record_all(usages)
        # Metered for every job the call served; settled for those recorded (the rest come back).
        # API jobs reserved at submission, uploaded records when their file was read.
        if self._budget is not None:
            for delivery, job in finished:
                self._budget.settle_job(
                    delivery.message.tenant,
                    delivery.message.route,
                    job.created_at,
                    variant=served.variant,
                    model_ms=share,
                )

    def _submit_async(
        self, routes: RouteTable, route: RouteTarget, variant: VariantTarget, chunk: list[Delivery]
    ) -> dict[str, Outcome]:
        """Hand the jobs to an asynchronous endpoint; `async_result` finishes them from its notification."""
        served = Served(route=route.name, endpoint=route.endpoint_name, variant=variant.name)
        if self._async is None:
            error = SluiceError(f"Route '{route.name}' is asynchronous but the worker has no async endpoint")
            return {d.message_id: self._finish_failed(d, error, served=served) for d in chunk}
        submitter = self._async
        job_ids = [d.message.job_id for d in chunk]

        def attempt(candidate: RouteTarget) -> Submitted:
            return submitter.submit(candidate, job_ids, [d.message.input for d in chunk])

        try:
            candidate, submitted = self._invoker.call(routes, route, attempt)
        except SluiceError as error:
            return {d.message_id: self._settle_failure(route, d, error, served) for d in chunk}
        handed = served.model_copy(update={"endpoint": candidate.endpoint_name})
        outcomes: dict[str, Outcome] = {}
        for d in chunk:
            try:
                self._jobs.hand_over(d.message.job_id, served=handed, submitted=submitted, now=self._clock())
            except Exception:
                # Still leased: served again once the lease runs out; whichever result comes
                # first finishes the job (final states are written once).
                logger.exception("job store unavailable", extra={"job_id": d.message.job_id})
                outcomes[d.message_id] = Outcome(retry=True, reason=JOB_STORE_UNAVAILABLE)
                continue
            outcomes[d.message_id] = DONE
        metrics.add_metric(name="AsyncInvocations", unit=MetricUnit.Count, value=1)
        return outcomes

    def _settle_failure(
        self, route: RouteTarget, delivery: Delivery, error: SluiceError, served: Served
    ) -> Outcome:
        if error.retryable and delivery.receive_count < route.max_receive_count:
            try:
                self._jobs.release(delivery.message.job_id)
            except Exception:
                # Still leased: it is claimed again once the lease runs out, as after a crash.
                logger.exception("job store unavailable", extra={"job_id": delivery.message.job_id})
            return Outcome(retry=True, reason=error.code)
        # Out of attempts (or not retryable): the job fails with a reason instead of rotting in a DLQ.
        return self._finish_failed(delivery, error, served=served)

    def _finish_failed(self, delivery: Delivery, error: SluiceError, served: Served | None) -> Outcome:
        detail = ErrorDetail(code=error.code, message=error.message)
        try:
            job = self._jobs.fail(delivery.message.job_id, error=detail, served=served)
        except Exception:
            logger.exception("job store unavailable", extra={"job_id": delivery.message.job_id})
            return Outcome(retry=True, reason=JOB_STORE_UNAVAILABLE)
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
        if self._budget is not None:
            try:
                # Nothing was served: the job's reservation is given back (the lease made this
                # worker the only one finishing it, as for a settlement).
                self._budget.release_job(delivery.message.tenant, delivery.message.route, job.created_at)
            except Exception:
                logger.exception("reservation not released", extra={"job_id": job.id})
        return self._announce(job)

    def _announce(self, job: Job) -> Outcome:
        """Publish InferenceCompleted once per final job; a failed publish is retried by redelivery."""
        if announce(job, jobs=self._jobs, events=self._events):
            return DONE
        return Outcome(retry=True, reason="EVENT_PUBLISH_FAILED")


def announce(job: Job, *, jobs: JobStore, events: EventPublisher) -> bool:
    """Publish InferenceCompleted for a final job unless it was; False if publishing failed."""
    return not unannounced([job], jobs=jobs, events=events)


def unannounced(
    finished: Sequence[Job], *, jobs: JobStore, events: EventPublisher, announcement: str | None = None
) -> set[str]:
    """Publish InferenceCompleted for each final job not announced yet, in as few calls as the bus
    takes; returns the ids of the jobs whose event was not published (they retry by redelivery).

    When every event of `announcement` (a micro-batch whose results were written with it) is
    published, one marker record says so for all of them; otherwise each published job is marked.
    A crash before the marker only repeats events on redelivery, as a crash before a job's mark.

    Jobs of an uploaded file are announced by their batch instead (a results line, the counts,
    one BatchCompleted): a file of a million records must not become a million events.
    """
    pending = [job for job in finished if not (job.event_published or job.batch_id)]
    # A redelivered job of an earlier micro-batch: its marker, if there is one, says it went out.
    earlier = {job.announcement for job in pending if job.announcement and job.announcement != announcement}
    announced = {marker for marker in earlier if _is_announced(jobs, marker)}
    pending = [job for job in pending if job.announcement not in announced or job.announcement is None]
    if not pending:
        return set()
    details = [
        InferenceCompleted(
            job_id=job.id,
            tenant=job.tenant,
            route=job.route,
            status=job.status,
            endpoint=job.endpoint,
            variant=job.variant,
            model_version=job.model_version,
            error_code=job.error.code if job.error else None,
        )
        for job in pending
    ]
    try:
        accepted = events.publish_all(
            [
                Event.wrap(detail, correlation_id=job.correlation_id)
                for detail, job in zip(details, pending, strict=True)
            ]
        )
    except Exception:
        logger.exception("event publish failed", extra={"jobs": len(pending)})
        return {job.id for job in pending}
    failed = {job.id for job, published in zip(pending, accepted, strict=True) if not published}
    if announcement is not None and not failed and all(job.announcement == announcement for job in pending):
        try:
            jobs.mark_announced(announcement)
            return failed
        except Exception:
            logger.exception("announcement marker not written", extra={"jobs": len(pending)})
    # The events went out: a mark that cannot be written only risks repeating one on redelivery
    # (at least once, as EventBridge itself), never failing jobs that are done.
    for job, published in zip(pending, accepted, strict=True):
        if published:
            try:
                jobs.mark_event_published(job.id)
            except Exception:
                logger.exception("event mark not written", extra={"job_id": job.id})
    return failed


def _is_announced(jobs: JobStore, marker: str) -> bool:
    try:
        return jobs.is_announced(marker)
    except Exception:
        # Unknown: publish again rather than not at all (consumers see events at least once).
        logger.exception("announcement marker unreadable")
        return False
