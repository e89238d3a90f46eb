"""The request path: validate against the route, redact, then answer now or queue a job."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sluice.config import BreakerConfig
from sluice.cost.budgets import BudgetGuard
from sluice.cost.metering import InferenceUsage, Meter
from sluice.cost.models import Admission, Limit
from sluice.cost.ports import JobAdmission
from sluice.cost.tokens import count_tokens
from sluice.errors import AsyncOnlyRoute, EndpointUnavailable, JobNotFound, RoutePaused
from sluice.guardrails.guard import OutputContext, OutputGuard
from sluice.jobs.models import ErrorDetail, InferenceMode, Job, JobMessage, new_job_id
from sluice.jobs.ports import JobQueue, JobStore
from sluice.lifecycle.feedback import InferenceLog, ServedInference, top_label, top_score
from sluice.observability import logger
from sluice.observability.audit import AuditEntry, AuditKind, AuditTrail
from sluice.observability.signals import ServedBy, Signals
from sluice.pii.ports import InputRedactor
from sluice.routing.breaker import CircuitBreaker, InMemoryBreakerStore
from sluice.routing.invoker import ModelAnswer, ResilientInvoker, invoke_model
from sluice.routing.ports import ModelEndpoint
from sluice.routing.table import RouteSource, RouteTable, RouteTarget, check_input
from sluice.routing.variants import Assignment, assign, sticky_key
from sluice.serving.models import AcceptedJob, InferenceRequest, JobView, SyncInferenceResponse


@dataclass(frozen=True)
class Caller:
    tenant: str
    correlation_id: str | None = None
    # Keeps a caller on one variant across requests (header `X-Caller-Key`); never logged.
    caller_key: str | None = None


class InferenceService:
    def __init__(
        self,
        *,
        routes: RouteSource,
        jobs: JobStore,
        queue: JobQueue,
        endpoint: ModelEndpoint,
        redactor: InputRedactor,
        reveal_tenants: frozenset[str] = frozenset(),
        invoker: ResilientInvoker | None = None,
        budget: BudgetGuard | None = None,
        meter: Meter | None = None,
        admission: JobAdmission | None = None,
        inference_log: InferenceLog | None = None,
        feedback_routes: frozenset[str] = frozenset(),
        signals: Signals | None = None,
        audit: AuditTrail | None = None,
        guard: OutputGuard | None = None,
    ) -> None:
        # The route's output guardrails (sluice.guardrails): every answer is checked before it is returned.
        self._guard = guard
        # What was served on the routes that take feedback (sluice.lifecycle.feedback).
        self._inference_log = inference_log
        self._feedback_routes = feedback_routes
        # Operational metrics (sluice.observability.signals) and the audit trail of each request.
        self._signals = signals
        self._audit = audit
        # Routes a cost action stopped taking jobs (the `budget` function's `stop_jobs`).
        self._admission = admission
        self._routes = routes
        # The tenant's budget and quotas (sluice.cost): reserved before the model, settled after.
        self._budget = budget
        self._meter = meter
        # Without a shared store the breaker is per instance: right for tests, not for production.
        self._invoker = invoker or ResilientInvoker(CircuitBreaker(InMemoryBreakerStore(), BreakerConfig()))
        self._jobs = jobs
        self._queue = queue
        self._endpoint = endpoint
        self._redactor = redactor
        self._reveal_tenants = reveal_tenants

    def routes(self) -> RouteTable:
        """The route table in force (the live one, when the source is SSM)."""
        return self._routes.current()

    def submit_within_budget(
        self, request: InferenceRequest, caller: Caller
    ) -> tuple[SyncInferenceResponse | AcceptedJob, tuple[Limit, ...]]:
        """The answer, and the soft limits of the tenant's budget it crossed (a warning header)."""
        started = time.perf_counter()
        routes = self._routes.current()
        route = routes.resolve(request.route)
        check_input(route, request.input)
        if request.mode is InferenceMode.SYNC and route.mode == "async":
            raise AsyncOnlyRoute(f"Route '{route.name}' is served asynchronously: send mode 'async'")
        key = sticky_key(caller.tenant, caller.caller_key)
        assignment = assign(route, tenant=caller.tenant, key=key, requested=request.variant)
        redacted = self._redactor.redact(
            request.input,
            tenant=caller.tenant,
            allow=route.pii_allow,
            operators=route.pii_operators,
            max_input_bytes=route.max_input_bytes,
        )
        if self._signals is not None:
            self._signals.redactions(route.name, redacted.counts)
        queued = request.mode is not InferenceMode.SYNC
        if queued and self._admission is not None and self._admission.paused(route.name):
            raise RoutePaused(
                f"Route '{route.name}' takes no new jobs while its cost alarm is raised",
                retry_after_seconds=300,
            )
        # Reserved only for valid, redacted input: what is refused before this costs nothing.
        admission = self._budget.reserve(caller.tenant, route.name) if self._budget else None
        warnings = admission.warnings if admission else ()
        try:
            if request.mode is InferenceMode.SYNC:
                answer = self._answer_now(
                    routes, route, redacted.input, redacted.counts, caller, key, assignment
                )
                # A blocked answer raises here: not charged (the caller did not get it), audited
                # as refused with its code, and in review when the route reviews.
                answer = self._guarded(route, answer, caller, redacted.input)
            else:
                accepted = self._enqueue(
                    route, redacted.input, redacted.counts, caller, assignment.variant.name
                )
                self._observe_queued(accepted, assignment, caller, started)
                return accepted, warnings
        except BaseException:
            # Nothing was served (or nothing accepted): nothing is charged.
            if admission is not None and self._budget is not None:
                self._budget.release(admission)
            raise
        self._account(answer, admission, caller, redacted.input, route.wire_format)
        self._observe_served(answer, caller, started)
        response = answer.response
        self._log_served(
            ServedInference(
                tenant=caller.tenant,
                job_id=response.id,
                route=response.route,
                input=redacted.input,
                variant=response.variant,
                model_version=response.model_version,
                predicted_label=top_label(response.output),
                confidence=top_score(response.output),
                latency_ms=response.latency_ms,
                answered=True,
            )
        )
        return response, warnings

    def _guarded(
        self, route: RouteTarget, answer: _SyncAnswer, caller: Caller, value: dict[str, Any]
    ) -> _SyncAnswer:
        if self._guard is None:
            return answer
        response = answer.response
        guarded = self._guard.check(
            route.name,
            route.output_policy,
            response.output,
            OutputContext(
                job_id=response.id,
                tenant=caller.tenant,
                input=value,
                variant=response.variant,
                model_version=response.model_version,
                correlation_id=caller.correlation_id,
            ),
            pii_allow=route.pii_allow,
            pii_operators=route.pii_operators,
        )
        # A review the queue refused leaves the answer standing (the caller's request was fine);
        # the guard counted it (ReviewsNotQueued, alarmed).
        if guarded.block is not None:
            raise guarded.block
        checked = response.model_copy(update={"output": guarded.output, "guardrails": guarded.report})
        return _SyncAnswer(response=checked, model_ms=answer.model_ms)

    def _log_served(self, served: ServedInference) -> None:
        if self._inference_log is None:
            return
        if served.route not in self._feedback_routes:
            # A route without feedback learning still takes a rating on its answers (feedback.py:
            # "it counts, it is not training data"): its record keeps the serving facts, no input.
            # Without it a sync answer's id was a resource feedback could not find (404).
            served = served.model_copy(update={"input": {}})
        try:
            self._inference_log.record(served)
        except Exception as error:
            # The answer stands (it was served and charged); only feedback on it will be refused.
            logger.warning(
                "inference not logged for feedback",
                extra={"job_id": served.job_id, "error_type": type(error).__name__},
            )

    def _observe_served(self, answer: _SyncAnswer, caller: Caller, started: float) -> None:
        response = answer.response
        served = ServedBy(response.route, response.variant, response.model_version)
        if self._signals is not None:
            self._signals.request(
                served,
                tenant=caller.tenant,
                mode=InferenceMode.SYNC,
                latency_ms=(time.perf_counter() - started) * 1000,
                model_ms=answer.model_ms,
                outputs=[response.output],
            )
        if self._audit is not None:
            self._audit.record(
                AuditEntry(
                    tenant=caller.tenant,
                    kind=AuditKind.REQUEST,
                    action="inference.sync",
                    actor=caller.tenant,
                    outcome="succeeded",
                    decision="served",
                    route=response.route,
                    variant=response.variant,
                    model_version=response.model_version,
                    subject=response.id,
                    correlation_id=caller.correlation_id,
                    redactions=response.pii,
                )
            )

    def _observe_queued(
        self, accepted: AcceptedJob, assignment: Assignment, caller: Caller, started: float
    ) -> None:
        if self._signals is not None:
            self._signals.request(
                ServedBy(accepted.route, assignment.variant.name, assignment.variant.model_version or None),
                tenant=caller.tenant,
                mode=InferenceMode.ASYNC,
                latency_ms=(time.perf_counter() - started) * 1000,
                model_ms=0.0,
            )
        if self._audit is not None:
            self._audit.record(
                AuditEntry(
                    tenant=caller.tenant,
                    kind=AuditKind.REQUEST,
                    action="inference.async",
                    actor=caller.tenant,
                    outcome="queued",
                    decision="queued",
                    route=accepted.route,
                    variant=assignment.variant.name,
                    subject=accepted.id,
                    correlation_id=caller.correlation_id,
                    redactions=accepted.pii,
                )
            )

    def _account(
        self,
        answer: _SyncAnswer,
        admission: Admission | None,
        caller: Caller,
        value: dict[str, Any],
        wire_format: str,
    ) -> None:
        response = answer.response
        if admission is not None and self._budget is not None:
            self._budget.settle(admission, variant=response.variant, model_ms=answer.model_ms)
        if self._meter is not None:
            tokens = count_tokens(wire_format, value, response.output)
            self._meter.record(
                InferenceUsage(
                    tenant=caller.tenant,
                    route=response.route,
                    variant=response.variant or "",
                    model_version=response.model_version or "",
                    model_ms=answer.model_ms,
                    bytes_in=len(json.dumps(value, separators=(",", ":")).encode()),
                    bytes_out=len(json.dumps(response.output, separators=(",", ":")).encode()),
                    tokens_in=tokens.tokens_in,
                    tokens_out=tokens.tokens_out,
                    tokens_estimated=tokens.estimated,
                )
            )

    def check_reveal(self, caller: Caller) -> None:
        """Refuses (403 PII_REVEAL_FORBIDDEN) a caller without the reveal permission, before any work."""
        self._redactor.reveal({}, tenant=caller.tenant, can_reveal=caller.tenant in self._reveal_tenants)

    def reveal(self, output: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """An answer with its pseudonyms (input's or output's) re-identified, for a permitted caller."""
        can_reveal = caller.tenant in self._reveal_tenants
        return self._redactor.reveal(output, tenant=caller.tenant, can_reveal=can_reveal)

    def get(self, job_id: str, caller: Caller, *, reveal: bool) -> JobView:
        """A tenant's own job; its pseudonyms re-identified only when asked (`reveal`, no default:
        each caller decides) and only for a tenant with the reveal permission."""
        job = self._jobs.get(job_id)
        # Another tenant's job is indistinguishable from a missing one.
        if job is None or job.tenant != caller.tenant:
            raise JobNotFound(f"No inference job with id {job_id}")
        view = JobView.of(job)
        if reveal and view.output is not None:
            can_reveal = caller.tenant in self._reveal_tenants
            output = self._redactor.reveal(view.output, tenant=caller.tenant, can_reveal=can_reveal)
            view = view.model_copy(update={"output": output})
        return view

    def _answer_now(
        self,
        routes: RouteTable,
        route: RouteTarget,
        value: dict[str, Any],
        pii_counts: dict[str, int],
        caller: Caller,
        key: str,
        assignment: Assignment,
    ) -> _SyncAnswer:
        started = time.perf_counter()
        model_ms = 0.0

        def attempt(candidate: RouteTarget) -> ModelAnswer:
            nonlocal model_ms
            # A fallback route serves on its own variants, assigned with the same sticky key.
            variant = (
                assignment.variant
                if candidate is route
                else assign(candidate, tenant=caller.tenant, key=key).variant
            )
            called = time.perf_counter()
            answer = invoke_model(self._endpoint, candidate, variant, [value])
            # The call that answered (failed tries excluded). InvokeEndpoint returns no model
            # time (its response has the body, content type, invoked variant and custom
            # attributes; ModelLatency is a CloudWatch metric aggregated per minute), so the
            # round trip stands for it: it over-states model time by SageMaker's
            # OverheadLatency and the network, a bias towards small, fast requests when
            # the bill is shared by model time (docs/cost-model.md, "Model time").
            model_ms = (time.perf_counter() - called) * 1000
            return answer

        _, answer = self._invoker.call(routes, route, attempt)
        response = SyncInferenceResponse(
            id=new_job_id(),
            **answer.served.model_copy(update={"route": route.name}).model_dump(),
            output=answer.predictions.outputs[0],
            pii=pii_counts,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return _SyncAnswer(response=response, model_ms=model_ms)

    def _enqueue(
        self,
        route: RouteTarget,
        value: dict[str, Any],
        pii_counts: dict[str, int],
        caller: Caller,
        variant: str,
    ) -> AcceptedJob:
        job = Job(
            id=new_job_id(),
            tenant=caller.tenant,
            route=route.name,
            correlation_id=caller.correlation_id,
            endpoint=route.endpoint_name,
            variant=variant,
        )
        self._jobs.create(job)
        message = JobMessage(
            job_id=job.id,
            tenant=caller.tenant,
            route=route.name,
            input=value,
            correlation_id=caller.correlation_id,
            variant=variant,
        )
        try:
            self._queue.send(route.queue_url, message)
        except Exception as error:
            # The job was never accepted: close its record so nothing is left queued forever.
            failure = EndpointUnavailable("The job queue is unavailable; the job was not accepted")
            self._jobs.fail(job.id, error=ErrorDetail(code=failure.code, message=failure.message))
            raise failure from error
        self._log_served(
            ServedInference(
                tenant=caller.tenant, job_id=job.id, route=route.name, input=value, variant=variant
            )
        )
        return AcceptedJob(id=job.id, route=route.name, pii=pii_counts)


@dataclass(frozen=True)
class _SyncAnswer:
    response: SyncInferenceResponse
    model_ms: float
