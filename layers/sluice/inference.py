"""The request path: validate against the route, redact, then answer now or queue a job."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sluice.contracts import (
    AcceptedJob,
    ErrorDetail,
    InferenceMode,
    InferenceRequest,
    Job,
    JobMessage,
    JobView,
    SyncInferenceResponse,
    new_job_id,
)
from sluice.errors import EndpointUnavailable, InvalidRequest, JobNotFound, PayloadTooLarge
from sluice.model_io import parse_predictions, to_model_payload
from sluice.ports import InputRedactor, JobQueue, JobStore, ModelEndpoint
from sluice.routing import RouteTable, RouteTarget


@dataclass(frozen=True)
class Caller:
    tenant: str
    correlation_id: str | None = None


class InferenceService:
    def __init__(
        self,
        *,
        routes: RouteTable,
        jobs: JobStore,
        queue: JobQueue,
        endpoint: ModelEndpoint,
        redactor: InputRedactor,
        reveal_tenants: frozenset[str] = frozenset(),
    ) -> None:
        self._routes = routes
        self._jobs = jobs
        self._queue = queue
        self._endpoint = endpoint
        self._redactor = redactor
        self._reveal_tenants = reveal_tenants

    def submit(self, request: InferenceRequest, caller: Caller) -> SyncInferenceResponse | AcceptedJob:
        route = self._routes.resolve(request.route)
        check_input(route, request.input)
        redacted = self._redactor.redact(
            request.input, tenant=caller.tenant, allow=route.pii_allow, operators=route.pii_operators
        )
        if request.mode is InferenceMode.SYNC:
            return self._answer_now(route, redacted.input, redacted.counts)
        return self._enqueue(route, redacted.input, redacted.counts, caller)

    def get(self, job_id: str, caller: Caller, *, reveal: bool = False) -> JobView:
        job = self._jobs.get(job_id)
        # Another tenant's job is indistinguishable from a missing one.
        if job is None or job.tenant != caller.tenant:
            raise JobNotFound(f"No inference job with id {job_id}")
        view = job.view()
        if reveal and view.output is not None:
            can_reveal = caller.tenant in self._reveal_tenants
            output = self._redactor.reveal(view.output, tenant=caller.tenant, can_reveal=can_reveal)
            view = view.model_copy(update={"output": output})
        return view

    def _answer_now(
        self, route: RouteTarget, value: dict[str, Any], pii_counts: dict[str, int]
    ) -> SyncInferenceResponse:
        started = time.perf_counter()
        invocation = self._endpoint.invoke(route.endpoint_name, to_model_payload([value]))
        predictions = parse_predictions(invocation.body, expected=1)
        return SyncInferenceResponse(
            id=new_job_id(),
            route=route.name,
            endpoint=route.endpoint_name,
            variant=invocation.variant or route.variant,
            model_version=predictions.model_version,
            output=predictions.outputs[0],
            pii=pii_counts,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def _enqueue(
        self, route: RouteTarget, value: dict[str, Any], pii_counts: dict[str, int], caller: Caller
    ) -> AcceptedJob:
        job = Job(
            id=new_job_id(), tenant=caller.tenant, route=route.name, correlation_id=caller.correlation_id
        )
        self._jobs.create(job)
        message = JobMessage(
            job_id=job.id,
            tenant=caller.tenant,
            route=route.name,
            input=value,
            correlation_id=caller.correlation_id,
        )
        try:
            self._queue.send(route.queue_url, message)
        except Exception as error:
            # The job was never accepted: close its record so nothing is left queued forever.
            failure = EndpointUnavailable("The job queue is unavailable; the job was not accepted")
            self._jobs.fail(job.id, error=ErrorDetail(code=failure.code, message=failure.message))
            raise failure from error
        return AcceptedJob(id=job.id, route=route.name, pii=pii_counts)


def check_input(route: RouteTarget, value: dict[str, Any]) -> None:
    """Enforce the route's limits before any work is done. Messages name fields, never values."""
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > route.max_input_bytes:
        raise PayloadTooLarge(
            f"input is {size} bytes; route '{route.name}' accepts at most {route.max_input_bytes}"
        )
    for field in route.required_text_fields:
        text = value.get(field)
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequest(f"input.{field} must be a non-empty string for route '{route.name}'")
