"""Platform overhead without the model: the api handler path per sync request, the worker per job.

Each api path is also reported as a ratio to its floor, measured in the same process on the same
sample event: a bare Powertools APIGatewayRestResolver with validation (a pydantic body of the
same shape, a typed header, a JSON answer) and nothing of Sluice. Absolute times move from
machine to machine; the ratio says what Sluice adds. The input is a 2 KB support ticket.

Everything the platform does around InvokeEndpoint runs for real (Powertools resolver, request
validation, route limits, PII redaction, variant assignment, circuit breaker check, response
models, job claims and outcomes); the endpoint answers instantly from memory, the job store,
queue and event bus are in-memory, and the breaker store is the in-process one (in AWS its
DynamoDB read is cached for a second, so a healthy endpoint pays it about once a second).

    .venv/bin/python bench/overhead_bench.py [--requests 5000] [--jobs 5000] [--profile api]

Prints a markdown table and writes it to bench/results/overhead.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SluiceBench")

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers"), str(ROOT / "local"), str(ROOT)]

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response  # noqa: E402
from aws_lambda_powertools.event_handler.openapi.params import Body, Header  # noqa: E402
from pydantic import BaseModel, ConfigDict, JsonValue  # noqa: E402

from sluice.config import EndpointConfig, RouteConfig, VariantConfig  # noqa: E402
from sluice.jobs.models import ErrorDetail, Job, JobMessage, JobStatus  # noqa: E402
from sluice.jobs.ports import Claim, ClaimOutcome  # noqa: E402
from sluice.jobs.worker import Delivery, JobWorker  # noqa: E402
from sluice.observability import metrics  # noqa: E402
from sluice.pii import InMemoryVault, StaticKey  # noqa: E402
from sluice.pii.input_redactor import PiiInputRedactor  # noqa: E402
from sluice.routing.ports import Invocation  # noqa: E402
from sluice.routing.table import RouteTable, RouteTarget, Served  # noqa: E402
from sluice.serving.api import ApiDependencies, build_app  # noqa: E402
from sluice.serving.service import InferenceService  # noqa: E402
from sluice_local.runtime import LocalContext  # noqa: E402
from tests.fakes import CountingRedactor  # noqa: E402
from tests.sample_events import api_event  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# A 2 KB support ticket, with the few pieces of personal data a ticket carries.
TEXT = (
    "Hello, I still have not received my new card and it has been almost three weeks since I "
    "ordered it through the app. My name is Jane Smith and the card should have gone to my home "
    "address. You can reach me on +44 20 7946 0958 or at jane.smith@example.com if you need to "
    "confirm anything. The old card was blocked after I reported it lost at the station, so right "
    "now I cannot pay for anything online, and two of my regular payments have already failed "
    "this month: the gym membership and the phone bill. I checked the tracking page you sent in "
    "the confirmation email, but it still says the card is being prepared, which is what it said "
    "on the first day as well. I also tried the chat in the app twice; the first time the agent "
    "told me to wait another five working days, and the second time the conversation closed "
    "before anyone answered. I would like to know whether the card was actually sent, and if it "
    "was not, whether you can send a replacement with express delivery instead. If there is a fee "
    "for that, please waive it, since the delay is not on my side. Could you also confirm that "
    "the blocked card cannot be used by anyone who finds it, and that the pending transactions "
    "from the week I lost it have been cancelled? I noticed one of them is still showing as "
    "pending in my statement, for a small amount at a coffee shop I have never visited. Finally, "
    "I travel for work at the end of next month and I need a working card before then, so a clear "
    "date would help me plan. Thank you for looking into this, and sorry for the long message; "
    "I wanted to give you everything in one place so that nobody has to ask me the same questions "
    "again. Kind regards, and I look forward to hearing from you soon about the new card. PS: "
    "my partner had the same problem last year and the replacement came quickly once someone on "
    "your side looked at it, so I hope this can be sorted out in the same way. Many thanks!! "
    "I am at home most evenings after six, and on Fridays all day, if a call is easier for you."
)
ROUTE = RouteConfig(
    name="intent",
    endpoint=EndpointConfig(
        variants=(
            VariantConfig(name="primary", weight=90),
            # a canary is a second model version (sluice.config refuses two fleets of one artifact)
            VariantConfig(name="canary", weight=10, model_data_url="s3://models/intent-v2/model.tar.gz"),
        )
    ),
    batch_size=10,
)


class FloorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    route: str
    input: dict[str, JsonValue]
    mode: Literal["sync", "async"] = "sync"


class FloorAnswer(BaseModel):
    route: str
    status: str
    output: dict[str, JsonValue]


class NullEndpoint:
    """Answers at once: what remains is the platform's own time."""

    def invoke(
        self,
        endpoint_name: str,
        payload: dict[str, Any],
        *,
        target_variant: str | None = None,
        time_budget_s: float | None = None,
    ) -> Invocation:
        predictions = [{"intents": [{"label": "card_arrival", "score": 0.9}]} for _ in payload["instances"]]
        return Invocation(
            body={"predictions": predictions, "model_version": "null"}, variant=target_variant or ""
        )


class MemoryJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.announced: set[str] = set()

    def create(self, job: Job) -> None:
        self.jobs[job.id] = job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def claim(self, job_id: str, *, lease_seconds: int, now: datetime) -> Claim:
        job = self.jobs[job_id]
        if job.status is not JobStatus.QUEUED:
            return Claim(ClaimOutcome.FINAL if job.status.is_final else ClaimOutcome.BUSY, job)
        self.jobs[job_id] = job = job.model_copy(update={"status": JobStatus.RUNNING})
        return Claim(ClaimOutcome.CLAIMED, job)

    def succeed(
        self,
        job_id: str,
        *,
        served: Served,
        output: dict[str, Any],
        announcement: str | None = None,
        guardrails: Any = None,
    ) -> Job:
        update = {
            "status": JobStatus.SUCCEEDED,
            "output": output,
            "guardrails": guardrails,
            "announcement": announcement,
            **served.model_dump(exclude={"route"}),
        }
        self.jobs[job_id] = job = self.jobs[job_id].model_copy(update=update)
        return job

    def fail(self, job_id: str, *, error: ErrorDetail, served: Served | None = None) -> Job:
        self.jobs[job_id] = job = self.jobs[job_id].model_copy(
            update={"status": JobStatus.FAILED, "error": error}
        )
        return job

    def release(self, job_id: str) -> None:
        self.jobs[job_id] = self.jobs[job_id].model_copy(update={"status": JobStatus.QUEUED})

    def hand_over(self, job_id: str, *, served: Served, submitted: Any, now: Any) -> None:
        pass

    def handed_over_before(self, route: str, before: Any) -> list[Job]:
        return []

    def mark_event_published(self, job_id: str) -> None:
        self.jobs[job_id] = self.jobs[job_id].model_copy(update={"event_published": True})

    def mark_announced(self, announcement: str) -> None:
        self.announced.add(announcement)

    def is_announced(self, announcement: str) -> bool:
        return announcement in self.announced


class MemoryQueue:
    def send(self, queue_url: str, message: JobMessage) -> str:
        return message.job_id


class NoEvents:
    def publish(self, event: Any) -> None:
        pass

    def publish_all(self, events: Any) -> list[bool]:
        return [True for _ in events]


def floor_overhead(requests: int) -> tuple[float, float]:
    """A bare resolver with validation answering the same event: what any Powertools API pays."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.post("/v1/inferences")
    def create(
        request: Annotated[FloorRequest, Body()],
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> Response[dict[str, Any]]:
        answer = FloorAnswer(
            route=request.route, status="succeeded", output={"intents": [{"label": "card_arrival"}]}
        )
        return Response(status_code=200, content_type="application/json", body=answer.model_dump(mode="json"))

    return _time_resolver(app, requests)


def _time_resolver(app: Any, requests: int) -> tuple[float, float]:
    event = api_event(
        "post_inference_sync", body={"route": "intent", "input": {"text": TEXT}, "mode": "sync"}
    )
    context = LocalContext(function_name="api", timeout_seconds=29)
    samples: list[int] = []
    for n in range(requests + 200):  # the first 200 warm caches and are not counted
        started = time.perf_counter_ns()
        response = app.resolve(event, context)
        elapsed = time.perf_counter_ns() - started
        assert response["statusCode"] == 200, response["body"]
        metrics.clear_metrics()  # Lambda flushes them after each invocation
        if n >= 200:
            samples.append(elapsed)
    return _percentiles(samples)


def _routes() -> RouteTable:
    return RouteTable(
        routes={"intent": RouteTarget.from_config(ROUTE, queue_url="q", endpoint_name="intent-endpoint")}
    )


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    return statistics.median(ordered) / 1000, ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] / 1000


def sluice_api(*, redact: bool) -> Any:
    redactor: Any = (
        PiiInputRedactor(key_provider=StaticKey(b"k" * 32), vault=InMemoryVault())
        if redact
        else CountingRedactor()
    )
    service = InferenceService(
        routes=_routes(), jobs=MemoryJobs(), queue=MemoryQueue(), endpoint=NullEndpoint(), redactor=redactor
    )
    deps = ApiDependencies(service=service, idempotent_submit=None, max_request_bytes=512 * 1024)  # type: ignore[arg-type]
    return build_app(deps)


def api_overhead(requests: int, *, redact: bool) -> tuple[float, float]:
    return _time_resolver(sluice_api(redact=redact), requests)


def profile_api(requests: int, *, redact: bool, top: int = 30) -> None:
    """cProfile of the api path: where the time above the floor goes."""
    import cProfile
    import pstats

    app = sluice_api(redact=redact)
    _time_resolver(app, 200)
    profiler = cProfile.Profile()
    profiler.enable()
    _time_resolver(app, requests)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def worker_overhead(jobs: int, *, batch_size: int) -> tuple[float, float]:
    store = MemoryJobs()
    worker = JobWorker(
        routes=_routes(), jobs=store, endpoint=NullEndpoint(), events=NoEvents(), lease_seconds=360
    )
    samples: list[int] = []
    for start in range(0, jobs + 200, batch_size):
        deliveries = []
        for n in range(start, start + batch_size):
            job = Job(id=f"{n:032x}", tenant="t", route="intent")
            store.create(job)
            message = JobMessage(
                job_id=job.id, tenant="t", route="intent", input={"text": TEXT}, variant="primary"
            )
            deliveries.append(Delivery(message_id=str(n), receive_count=1, message=message))
        started = time.perf_counter_ns()
        outcomes = worker.run(deliveries)
        elapsed = time.perf_counter_ns() - started
        assert not any(outcome.retry for outcome in outcomes.values())
        metrics.clear_metrics()
        if start >= 200:
            samples.extend([elapsed // batch_size] * batch_size)  # per job
    return _percentiles(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument(
        "--profile", choices=["api", "api-redacting"], help="print a cProfile of one api path instead"
    )
    args = parser.parse_args(argv)
    if args.profile:
        profile_api(args.requests, redact=args.profile == "api-redacting")
        return 0
    rows: list[tuple[str, Callable[[], tuple[float, float]]]] = [
        ("floor: bare APIGatewayRestResolver with validation, same event", lambda: floor_overhead(args.requests)),
        ("api: sync request, redaction stubbed (routing, validation, resolver)", lambda: api_overhead(args.requests, redact=False)),
        ("api: sync request, PII redaction on (the deployed path)", lambda: api_overhead(args.requests, redact=True)),
        ("worker: per job, batch of 10 (one model call)", lambda: worker_overhead(args.jobs, batch_size=10)),
        ("worker: per job, batch size 1", lambda: worker_overhead(args.jobs, batch_size=1)),
    ]  # fmt: skip
    lines = [
        f"Platform overhead without the model ({platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; `bench/overhead_bench.py --requests {args.requests} "
        f"--jobs {args.jobs}`; api input: a {len(TEXT.encode())}-byte ticket)",
        "",
        "| path | median µs | p99 µs | median / floor |",
        "|---|---:|---:|---:|",
    ]
    floor = 0.0
    for label, run in rows:
        median, p99 = run()
        floor = floor or median
        ratio = f"{median / floor:.2f}x" if label.startswith(("floor", "api")) else ""
        lines.append(f"| {label} | {median:.0f} | {p99:.0f} | {ratio} |")
        print(lines[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
