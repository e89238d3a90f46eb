"""Load on the local platform: N requests from C concurrent callers, sync and async; none lost.

Starts `sluice_local.platform` on free loopback ports, sends the sync requests, then the async
ones, then follows every accepted job to its end through its InferenceCompleted event. Prints (and writes to bench/results/load.md)
throughput, p50 and p99 per mode, the answers by status, and the accounting: every async request
accepted ended succeeded or failed with a reason, none still open, none lost.

    .venv/bin/python bench/load.py [--requests 10000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import os
import platform as host
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from platform_bench import TEXTS  # bench/ is on sys.path when a benchmark runs
from tqdm import tqdm

from sluice_local.launch import platform_process
from sluice_local.outputs import local_session, subscribe_queue, take_events

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FINAL = {"succeeded", "failed"}
RETRIES = 3


@dataclass
class Run:
    mode: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    job_ids: list[str] = field(default_factory=list)
    transport_retries: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def row(self) -> str:
        sent = sum(self.statuses.values())
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        return (
            f"| {self.mode} | {sent} | {sent / self.seconds:.1f} | {statistics.median(self.latencies_ms):.1f} | "
            f"{self.percentile(0.99):.1f} | {statuses} | {self.transport_retries} |"
        )


def _drive(http: httpx.Client, key: str, mode: str, requests: int, concurrency: int) -> Run:
    run = Run(mode)

    def one(index: int) -> tuple[int, float, str | None]:
        body = {"route": "intent", "input": {"text": f"{TEXTS[index % len(TEXTS)]} ({index})"}, "mode": mode}
        # As a careful client does: a request whose answer was lost is sent again under the same
        # Idempotency-Key, so it is never accepted twice (a replay answers the first job).
        headers = {"x-api-key": key, "Idempotency-Key": f"load-{mode}-{index}"}
        started = time.perf_counter()
        for attempt in range(RETRIES):
            try:
                response = http.post("/v1/inferences", json=body, headers=headers)
                break
            except httpx.TransportError:
                run.transport_retries += 1
                if attempt == RETRIES - 1:
                    return 0, (time.perf_counter() - started) * 1000, None
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code >= 400:
            run.error_codes[response.json().get("error", {}).get("code", "?")] += 1
        job_id = response.json().get("id") if response.status_code == 202 else None
        return response.status_code, elapsed, job_id

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool, tqdm(total=requests, desc=f"{mode:5}", unit="req") as bar:
        for status, elapsed, job_id in pool.map(one, range(requests)):
            run.statuses[status] += 1
            run.latencies_ms.append(elapsed)
            if job_id:
                run.job_ids.append(job_id)
            bar.update()
    run.seconds = time.perf_counter() - started
    return run


def _completions(outputs: dict[str, Any]) -> tuple[Any, str]:
    session = local_session(outputs)
    sqs = session.client("sqs", endpoint_url=outputs["AwsEndpointUrl"])
    events = session.client("events", endpoint_url=outputs["AwsEndpointUrl"])
    pattern = {"source": ["sluice"], "detail-type": ["InferenceCompleted"]}
    return sqs, subscribe_queue(
        sqs, events, bus=outputs["EventBusName"], name="load-completions", pattern=pattern
    )


def _follow(sqs: Any, queue_url: str, job_ids: list[str], deadline_s: float) -> Counter[str]:
    """Each accepted job's final status, from its InferenceCompleted event (long polling, so the
    count costs the platform nothing); jobs with no event by the deadline count as `open`."""
    open_jobs, outcomes = set(job_ids), Counter[str]()
    deadline = time.monotonic() + deadline_s
    with tqdm(total=len(job_ids), desc="final", unit="job") as bar:
        while open_jobs and time.monotonic() < deadline:
            for detail in take_events(sqs, queue_url):
                if detail["job_id"] in open_jobs:
                    open_jobs.discard(detail["job_id"])
                    outcomes[str(detail["status"])] += 1
                    bar.update()
    outcomes["open"] += len(open_jobs)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000, help="per mode")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--drain-timeout", type=float, default=1800, help="seconds for the async jobs to end")
    args = parser.parse_args(argv)

    with platform_process(echo=lambda line: None) as outputs:
        key = outputs["ApiKey"]
        limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
        sqs, completions = _completions(outputs)
        with httpx.Client(base_url=outputs["ApiUrl"], timeout=60, limits=limits) as http:
            sync = _drive(http, key, "sync", args.requests, args.concurrency)
            queued = _drive(http, key, "async", args.requests, args.concurrency)
            started = time.perf_counter()
            outcomes = _follow(sqs, completions, sorted(set(queued.job_ids)), args.drain_timeout)
            drained_s = time.perf_counter() - started

    # A replayed key answers 202 with the first job: count jobs, not answers.
    accepted = len(set(queued.job_ids))
    lost = accepted - sum(count for status, count in outcomes.items() if status in FINAL)
    machine = f"{os.cpu_count()} CPUs, {host.machine()}, Python {host.python_version()}"
    lines = [
        f"# Load on the local platform ({time.strftime('%Y-%m-%d')}, {machine})",
        "",
        f"`make load`: {args.requests} requests per mode from {args.concurrency} concurrent callers, route `intent`.",
        "",
        "| mode | requests | per s | p50 ms | p99 ms | answers (0: no answer after retries) | resent after a lost answer |",
        "|---|---:|---:|---:|---:|---|---:|",
        sync.row(),
        queued.row(),
        "",
        f"Error codes: sync {dict(sync.error_codes)}, async {dict(queued.error_codes)}.",
        "",
        f"Async accounting: {accepted} accepted; ended {dict(outcomes)}; all final after {drained_s:.0f} s "
        f"more; **lost: {lost}**.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.md").write_text(report)
    return 0 if lost == 0 and outcomes["open"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
