"""The fault suite: many requests, every fault at once, then an accounting of where each one ended.

Runs the real api and worker wiring on moto (the functional platform of `conftest.py`) with a
scripted SageMaker endpoint and DynamoDB faults injected into the functions' own client. Each
request's text carries the fault it meets (`clean`, `throttled`, ...); the Lambda event source
is played by `deliver`, which also plays SQS's faults: every batch delivered twice, in reverse
order; poison messages beside the jobs; failed messages visible again once their visibility
timeout has passed (the fake clock moves by it); a restart of every function half-way.

The accounting then asks of every accepted request: exactly one final state in its job record
(succeeded, or failed with a reason), exactly one InferenceCompleted event, and no more model
invocations than the retry policy allows. `make faults` writes the report
(bench/results/faults.md); `test_fault_accounting.py` asserts it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from sluice.errors import EndpointTimeout, EndpointUnavailable, ModelFailed, ModelRejectedInput
from tests.functional.conftest import Platform
from tests.sample_events import api_event

# What each fault does, and the terminal state the platform owes a request that meets it.
FAULTS: dict[str, str] = {
    "clean": "nothing: served at once",
    "throttled": "the endpoint throttles its first 4 calls (429), then answers",
    "timeout": "the endpoint times out on its first call, then answers",
    "dependency": "the model container fails every call (424 ModelError)",
    "rejected": "the model rejects the input (400 ModelError)",
    "crash": "the worker dies after the model answered, before recording the job (once)",
    "ddb-throttled": "DynamoDB throttles the first 2 writes to the job's record",
}
EXPECTED = {
    "clean": "succeeded",
    "throttled": "succeeded",
    "timeout": "succeeded",
    "dependency": "failed MODEL_ERROR",
    "rejected": "failed MODEL_REJECTED_INPUT",
    "crash": "succeeded",
    "ddb-throttled": "succeeded",
}


class Crash(BaseException):
    """Stands in for Lambda killing an invocation: nothing in the function can catch it."""


@dataclass
class FaultPlan:
    """The scripted faults, keyed by the fault named in each request's text."""

    calls_seen: Counter[str] = field(default_factory=Counter)
    writes_seen: Counter[str] = field(default_factory=Counter)
    crashed: set[str] = field(default_factory=set)
    fault_of_job: dict[str, str] = field(default_factory=dict)
    # How often each fault really fired: the report shows the suite is not vacuous.
    fired: Counter[str] = field(default_factory=Counter)

    def endpoint_failure(self, instances: list[dict[str, Any]]) -> Exception | None:
        faults = {text.split(":")[0] for text in (item.get("text", "") for item in instances)}
        for fault in faults:
            self.calls_seen[fault] += 1
        failure: Exception | None = None
        if "dependency" in faults:
            failure, fault = ModelFailed("The model failed (status 424)"), "dependency"
        elif "rejected" in faults:
            failure, fault = ModelRejectedInput("The model rejected the input (status 400)"), "rejected"
        elif "throttled" in faults and self.fired["throttled"] < 4:
            failure, fault = EndpointUnavailable("Endpoint is unavailable (ThrottlingException)"), "throttled"
        elif "timeout" in faults and self.fired["timeout"] < 1:
            failure, fault = EndpointTimeout("Endpoint did not answer in time"), "timeout"
        if failure is not None:
            self.fired[fault] += 1
        return failure

    def dynamodb_fault(self, params: dict[str, Any], **_: Any) -> None:
        """botocore's before-parameter-build hook on the functions' DynamoDB client."""
        job_id = params.get("Key", {}).get("id", {}).get("S", "")
        fault = self.fault_of_job.get(job_id)
        if fault == "ddb-throttled":
            self.writes_seen[job_id] += 1
            if self.writes_seen[job_id] <= 2:
                self.fired["ddb-throttled"] += 1
                error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}
                raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "UpdateItem")
        succeeding = params.get("ExpressionAttributeValues", {}).get(":status", {}).get("S") == "succeeded"
        if fault == "crash" and succeeding and job_id not in self.crashed:
            self.crashed.add(job_id)
            self.fired["crash"] += 1
            raise Crash(job_id)


@dataclass
class Accounting:
    accepted: dict[str, str]  # job id -> fault
    final: dict[str, str]  # job id -> "succeeded" or "failed <code>"; absent: not final
    events: Counter[str]  # InferenceCompleted events seen per job id
    invocations: dict[str, int]  # most model calls any one request of the fault took part in
    allowed_invocations: int
    in_dlq: set[str]  # job ids whose message is in the dead-letter queue (its alarm notifies)
    poison_in_dlq: int
    poison_sent: int
    deliveries: int
    crashed_invocations: int
    restarts: int
    fired: Counter[str]
    # The faults' descriptions and owed outcomes (the e2e suite adds its own, `lost`).
    descriptions: dict[str, str] = field(default_factory=lambda: dict(FAULTS))
    expected: dict[str, str] = field(default_factory=lambda: dict(EXPECTED))

    def by_fault(self) -> dict[str, Counter[str]]:
        outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        for job_id, fault in self.accepted.items():
            state = self.final.get(job_id) or ("in the DLQ" if job_id in self.in_dlq else "LOST")
            outcomes[fault][state] += 1
        return outcomes

    def problems(self) -> list[str]:
        """Every broken promise; empty when everything accepted ended exactly once, as owed."""
        found = []
        for job_id, fault in self.accepted.items():
            final, dead_lettered = self.final.get(job_id), job_id in self.in_dlq
            # Exactly one terminal state: a final record, or the message in the DLQ (not both).
            if final is None and not dead_lettered:
                found.append(f"{job_id} ({fault}) is neither final nor in the DLQ: lost")
            elif final is not None and dead_lettered:
                found.append(f"{job_id} ({fault}) is final and also in the DLQ")
            elif final is not None and final != self.expected[fault]:
                found.append(f"{job_id} ({fault}) ended {final}, owed {self.expected[fault]}")
            if self.events[job_id] != (1 if final else 0):
                found.append(f"{job_id} ({fault}) announced {self.events[job_id]} times")
        for fault, most in self.invocations.items():
            if most > self.allowed_invocations:
                found.append(
                    f"{fault}: {most} model calls, the retry policy allows {self.allowed_invocations}"
                )
        if self.poison_in_dlq != self.poison_sent:
            found.append(f"{self.poison_sent} poison messages sent, {self.poison_in_dlq} in the DLQ")
        return found

    def report(self) -> str:
        lines = [
            "| fault | what is injected | requests | times it fired | outcome | most model calls per request |",
            "| --- | --- | ---: | ---: | --- | ---: |",
        ]
        for fault, outcomes in sorted(self.by_fault().items()):
            outcome = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items()))
            lines.append(
                f"| {fault} | {self.descriptions[fault]} | {sum(outcomes.values())} | {self.fired[fault]} | {outcome} | "
                f"{self.invocations.get(fault, 0)} |"
            )
        lines.append(
            f"| poison | unparseable messages on the route queue | {self.poison_sent} | {self.poison_sent} | "
            f"{self.poison_in_dlq} in the dead-letter queue | 0 |"
        )
        announced_once = sum(1 for job_id in self.accepted if self.events[job_id] == 1)
        dead_lettered = len(self.in_dlq & set(self.accepted))
        lines += [
            "",
            f"Accepted: {len(self.accepted)}; final exactly as owed: "
            f"{sum(1 for j, f in self.accepted.items() if self.final.get(j) == self.expected[f])}; "
            f"in the dead-letter queue (its alarm notifies; `make redrive`): {dead_lettered}; "
            f"announced exactly once: {announced_once}. Model calls allowed per request by the retry "
            f"policy: {self.allowed_invocations}. SQS deliveries: {self.deliveries} (each batch twice, "
            f"reversed), invocations killed mid-batch: {self.crashed_invocations}, restarts of every "
            f"function: {self.restarts}.",
            "",
            "Problems: " + ("; ".join(self.problems()) or "none"),
        ]
        return "\n".join(lines)


def run(
    platform: Platform, *, per_fault: int = 12, poison: int = 5, faults: tuple[str, ...] = tuple(FAULTS)
) -> Accounting:
    """Submit `per_fault` async requests for each of `faults` (and `poison` unparseable messages),
    deliver until every queue is empty, and account for each."""
    plan = FaultPlan()
    platform.endpoint._failures = plan.endpoint_failure
    platform.dynamodb.meta.events.register("before-parameter-build.dynamodb.UpdateItem", plan.dynamodb_fault)
    route = platform.resources.routes["intent"]
    accepted: dict[str, str] = {}
    for n in range(per_fault):
        for fault in faults:
            body = {
                "route": "intent",
                "input": {"text": f"{fault}: my card {n} has not arrived"},
                "mode": "async",
            }
            status, answer, _ = platform.call(api_event("post_inference_async", body=body))
            if status != 202:
                raise AssertionError(f"{fault} request refused: {status} {answer}")
            accepted[answer["id"]] = fault
    plan.fault_of_job.update(accepted)
    for n in range(poison):
        platform.sqs.send_message(QueueUrl=route.queue_url, MessageBody=f"poison {n} {{not json")

    deliveries = crashed = restarts = 0
    rounds = 0
    while rounds < 40:
        rounds += 1
        messages = _receive_all(platform, route.queue_url)
        if not messages:
            break
        if rounds == 3:
            platform.restart()
            restarts += 1
        for start in range(0, len(messages), 8):
            batch = messages[start : start + 8]
            # Each batch twice, the second in reverse order: duplicates and out-of-order deliveries.
            for delivered in (batch, list(reversed(batch))):
                deliveries += 1
                try:
                    platform.run_worker(delivered)
                except (Crash, ClientError):
                    crashed += 1  # the whole batch comes back after its visibility timeout
        # Time passes: failed messages' visibility timeouts and the jobs' leases run out.
        platform.clock.advance(platform.config.worker_visibility_timeout_seconds + 1)
        _make_visible_again(platform, route.queue_url, messages)

    events: Counter[str] = Counter()
    while batch_events := platform.completed_events():
        for event in batch_events:
            events[event["detail"]["detail"]["job_id"]] += 1
    final = {}
    for job_id in accepted:
        job = platform.job(job_id)
        if job["status"] == "succeeded":
            final[job_id] = "succeeded"
        elif job["status"] == "failed":
            final[job_id] = f"failed {job['error']['code']}"
    invocations: dict[str, int] = defaultdict(int)
    for text, count in platform.endpoint.invocations_per_text.items():
        fault = text.split(":")[0]
        invocations[fault] = max(invocations[fault], count)
    dead_letters = _receive_all(platform, route.dead_letter_queue_url)
    dead_lettered_jobs = set()
    for message in dead_letters:
        try:
            dead_lettered_jobs.add(json.loads(message["Body"])["job_id"])
        except (ValueError, KeyError):
            continue  # a poison message: no job
    retry = platform.config.retry
    route_config = next(r for r in platform.config.routes if r.name == "intent")
    return Accounting(
        accepted=accepted,
        final=final,
        events=events,
        invocations=dict(invocations),
        # Per delivery: the micro-batch's attempts, and alone again when a neighbour's input was
        # bad (non-retryable errors split the batch); at most max_receive_count deliveries.
        allowed_invocations=route_config.max_receive_count * 2 * retry.max_attempts,
        in_dlq=dead_lettered_jobs,
        poison_in_dlq=len(dead_letters) - len(dead_lettered_jobs),
        poison_sent=poison,
        deliveries=deliveries,
        crashed_invocations=crashed,
        restarts=restarts,
        fired=plan.fired,
    )


def _receive_all(platform: Platform, queue_url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := platform.sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600, MessageSystemAttributeNames=["All"]
    ).get("Messages", []):
        messages += batch
    return messages


def _make_visible_again(platform: Platform, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """What SQS does when a message's visibility timeout ends: one not deleted is received again."""
    for message in messages:
        try:
            platform.sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        except ClientError:
            continue  # deleted: it succeeded or failed for good


def as_json(accounting: Accounting) -> str:
    return json.dumps({fault: dict(outcomes) for fault, outcomes in accounting.by_fault().items()}, indent=2)
