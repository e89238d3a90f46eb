"""End-to-end benchmark of the local platform: sync and async, micro-batching against batch size 1.

Starts `sluice_local.platform` twice on free loopback ports (once with micro-batching in the
worker and the endpoint, once with both at batch size 1), drives it over HTTP and prints a
markdown table (also written to bench/results/platform.md, with a plot in platform.png).

    .venv/bin/python bench/platform_bench.py [--sync-requests 400] [--async-jobs 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from sluice_local.launch import platform_process
from sluice_local.moto_state import CALLS_PATH
from sluice_local.outputs import local_session, subscribe_queue, take_events

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TEXTS = [
    "I still have not received my new card",
    "How do I top up my account with Apple Pay?",
    "My card payment was declined at the shop",
    "Why was I charged a fee for a transfer?",
    "I want to change my PIN",
    "The exchange rate on my statement looks wrong",
]


@dataclass(frozen=True)
class Result:
    label: str
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def row(self) -> str:
        return (
            f"| {self.label} | {self.requests} | {self.per_second:.1f} | "
            f"{statistics.median(self.latencies_ms):.1f} | {self.percentile(0.99):.1f} |"
        )


@contextmanager
def running_platform(*, micro_batching: bool, extra: list[str]) -> Iterator[dict[str, Any]]:
    batch = [] if micro_batching else ["--worker-batch-size", "1", "--endpoint-max-batch-size", "1"]
    with platform_process("--api-concurrency", "8", *batch, *extra) as outputs:
        yield outputs


def bench_sync(outputs: dict[str, Any], *, requests: int, concurrency: int, label: str) -> Result:
    headers = {"x-api-key": outputs["ApiKey"]}
    latencies: list[float] = []
    with (
        httpx.Client(base_url=outputs["ApiUrl"], timeout=60, headers=headers) as http,
        tqdm(total=requests, desc=label, unit="req") as progress,
    ):

        def one(i: int) -> None:
            body = {"route": "intent", "input": {"text": TEXTS[i % len(TEXTS)]}, "mode": "sync"}
            started = time.perf_counter()
            response = http.post("/v1/inferences", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            progress.update()

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(requests)))
        elapsed = time.perf_counter() - started
    return Result(label, requests, elapsed, latencies)


def moto_calls(outputs: dict[str, Any]) -> Counter[str]:
    """Every AWS call the local moto servers answered so far, by operation."""
    total: Counter[str] = Counter()
    for url in {outputs["AwsEndpointUrl"], outputs.get("DynamoDbEndpointUrl", outputs["AwsEndpointUrl"])}:
        total.update(httpx.get(url.rstrip("/") + CALLS_PATH).json())
    return total


def process_cpu_seconds(outputs: dict[str, Any]) -> dict[str, float]:
    """CPU seconds so far of the platform's processes, found in /proc by the ports they serve."""
    ports = {
        "moto": outputs["AwsEndpointUrl"].rsplit(":", 1)[1].strip("/"),
        "moto (DynamoDB)": outputs.get("DynamoDbEndpointUrl", "").rsplit(":", 1)[-1].strip("/"),
        "model endpoint": outputs["SageMakerRuntimeEndpointUrl"].rsplit(":", 1)[1].strip("/"),
        "platform (handlers, pollers)": outputs["ApiUrl"].rsplit(":", 1)[1].strip("/"),
    }
    flags = {
        "moto": "--port",
        "moto (DynamoDB)": "--port",
        "model endpoint": "--port",
        "platform (handlers, pollers)": "--api-port",
    }
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        for name, port in ports.items():
            flag = flags[name]
            if port and any(w == flag and words[i + 1 : i + 2] == [port] for i, w in enumerate(words)):
                # max: a moto server's snapshot child, forked for a moment, has the same argv
                found[name] = max(found.get(name, 0.0), (int(stat[11]) + int(stat[12])) / ticks)
    return found


def _own_calls(client: Any, counter: Counter[str]) -> None:
    """Count this benchmark's own calls, so that calls per job leave them out."""
    prefix = {"sqs": "AmazonSQS", "events": "AWSEvents"}[client.meta.service_model.service_name]

    def count(model: Any, **_: Any) -> None:
        counter[f"{prefix}.{model.name}"] += 1

    client.meta.events.register("before-call", count)


def bench_async(
    outputs: dict[str, Any],
    *,
    jobs: int,
    concurrency: int,
    label: str,
    calls: Counter[str] | None = None,
    cpu: dict[str, float] | None = None,
) -> Result:
    """Submit `jobs` async requests; time until the last InferenceCompleted event arrives.

    `calls`, when given, receives the AWS calls the platform made for these jobs; `cpu` the CPU
    seconds each of the platform's processes spent meanwhile (submitting included).
    """
    session = local_session(outputs)
    sqs = session.client("sqs", endpoint_url=outputs["AwsEndpointUrl"])
    events = session.client("events", endpoint_url=outputs["AwsEndpointUrl"])
    own: Counter[str] = Counter()
    _own_calls(sqs, own)
    _own_calls(events, own)
    calls_before = moto_calls(outputs)
    cpu_before = process_cpu_seconds(outputs)
    queue_url = subscribe_queue(
        sqs, events, bus=outputs["EventBusName"], name="bench-completed", pattern={"source": ["sluice"]}
    )

    submitted: dict[str, float] = {}
    headers = {"x-api-key": outputs["ApiKey"]}
    with httpx.Client(base_url=outputs["ApiUrl"], timeout=60, headers=headers) as http:

        def submit(i: int) -> None:
            body = {"route": "intent", "input": {"text": TEXTS[i % len(TEXTS)]}, "mode": "async"}
            response = http.post("/v1/inferences", json=body)
            response.raise_for_status()
            submitted[response.json()["id"]] = time.perf_counter()

        started = time.perf_counter()
        with (
            ThreadPoolExecutor(concurrency) as pool,
            tqdm(total=jobs, desc=f"{label} submit", unit="job") as bar,
        ):
            for _ in pool.map(submit, range(jobs)):
                bar.update()

    latencies: list[float] = []
    finished = 0.0
    with tqdm(total=jobs, desc=f"{label} done", unit="job") as bar:
        while len(latencies) < jobs:
            details = take_events(sqs, queue_url)
            if not details and time.perf_counter() - started > 600:
                raise SystemExit("async jobs did not finish within 10 minutes")
            now = time.perf_counter()
            for detail in details:
                if detail["status"] != "succeeded":
                    raise SystemExit(
                        f"job {detail['job_id']} ended {detail['status']}: {detail['error_code']}"
                    )
                latencies.append((now - submitted.get(detail["job_id"], started)) * 1000)
                finished = now
                bar.update()
    if cpu is not None:
        cpu.update({k: v - cpu_before.get(k, 0.0) for k, v in process_cpu_seconds(outputs).items()})
    if calls is not None:
        calls.update(moto_calls(outputs))
        calls.subtract(calls_before)
        calls.subtract(own)
        for operation in [op for op, n in calls.items() if n <= 0]:
            del calls[operation]
    return Result(label, jobs, finished - started, latencies)


def calls_table(calls: Counter[str], jobs: int) -> list[str]:
    rows = [f"| {op} | {n} | {n / jobs:.2f} |" for op, n in sorted(calls.items(), key=lambda kv: -kv[1])]
    return [
        f"AWS calls the platform made for {jobs} async jobs (micro-batching), from the moto servers' counts:",
        "",
        "| operation | calls | per job |",
        "|---|---:|---:|",
        *rows,
        f"| **all** | {sum(calls.values())} | **{sum(calls.values()) / jobs:.2f}** |",
    ]


def bench_bare_model(*, texts: int, batch_size: int, label: str) -> Result:
    """predict_fn in this process, no HTTP and no AWS: the ceiling the platform is measured against."""
    from sluice_local.endpoint import load_handler

    handler = load_handler()
    model = handler.model_fn(str(ROOT / ".sluice" / "model"))
    instances = [handler.Instance(TEXTS[i % len(TEXTS)]) for i in range(texts)]
    handler.predict_fn(instances[:batch_size], model)  # warm up
    latencies: list[float] = []
    started = time.perf_counter()
    for start in range(0, texts, batch_size):
        call_started = time.perf_counter()
        handler.predict_fn(instances[start : start + batch_size], model)
        latencies.append((time.perf_counter() - call_started) * 1000)
    return Result(label, texts, time.perf_counter() - started, latencies)


def plot(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4))
    axis.barh([r.label for r in results], [r.per_second for r in results], color="#2b6cb0")
    axis.set_xlabel("requests (or jobs) per second")
    axis.set_title("Sluice local platform, end to end")
    for index, result in enumerate(results):
        axis.text(result.per_second, index, f" {result.per_second:.0f}/s", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sync-requests", type=int, default=400)
    parser.add_argument("--async-jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--micro-batching-only", action="store_true", help="skip the batch-size-1 platform (half the time)"
    )
    parser.add_argument("--platform-arg", action="append", default=[], help="passed to the platform")
    args = parser.parse_args()

    print("==> the model alone", flush=True)
    bare = bench_bare_model(texts=512, batch_size=32, label="model alone, predict_fn in batches of 32")
    results: list[Result] = [bare]
    calls: Counter[str] = Counter()
    cpu: dict[str, float] = {}
    for micro_batching in (True,) if args.micro_batching_only else (True, False):
        mode = "micro-batching" if micro_batching else "batch size 1"
        print(f"==> platform with {mode}", flush=True)
        with running_platform(micro_batching=micro_batching, extra=args.platform_arg) as outputs:
            results.append(
                bench_sync(
                    outputs,
                    requests=args.sync_requests,
                    concurrency=args.concurrency,
                    label=f"API sync, {mode}",
                )
            )
            results.append(
                bench_async(
                    outputs,
                    jobs=args.async_jobs,
                    concurrency=args.concurrency,
                    label=f"API async, {mode}",
                    calls=calls if micro_batching else None,
                    cpu=cpu if micro_batching else None,
                )
            )

    # The machine may be shared: the model alone again, after the platform, in the same run.
    print("==> the model alone, again", flush=True)
    bare_after = bench_bare_model(texts=512, batch_size=32, label="model alone again, after the platform")
    results.append(bare_after)
    # The better of the two is the model's capacity; the worse one met a busy machine.
    bare_texts_s = max(bare.per_second, bare_after.per_second)
    batched_async, *single = (r for r in results if r.label.startswith("API async"))
    versus_single = (
        f", and {batched_async.per_second / single[0].per_second:.1f}x the async path at batch size 1"
        if single
        else ""
    )
    table = "\n".join(
        [
            f"Local platform on this machine ({args.concurrency} concurrent clients; async latency is submit to completion event).",
            "",
            "| path | requests | per second | p50 ms | p99 ms |",
            "|---|---:|---:|---:|---:|",
            *[r.row() for r in results],
            "",
            f"**Async end to end: {batched_async.per_second:.1f} jobs/s; the bare model in the same run: "
            f"{bare_texts_s:.0f} texts/s (predict_fn, batches of 32; the better of before and after). Ratio: "
            f"{batched_async.per_second / bare_texts_s:.0%}**{versus_single}.",
            "",
            "Latency here is queueing: every job is submitted at once.",
            "",
            *calls_table(calls, args.async_jobs),
            "",
            "CPU per async job, by process (from /proc, submitting and serving):",
            "",
            "| process | CPU ms per job |",
            "|---|---:|",
            *[
                f"| {name} | {seconds / args.async_jobs * 1000:.1f} |"
                for name, seconds in sorted(cpu.items())
            ],
            f"| **all** | **{sum(cpu.values()) / args.async_jobs * 1000:.1f}** |",
        ]
    )
    print("\n" + table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "platform.md").write_text(table + "\n")
    plot(results, RESULTS / "platform.png")
    print(f"\nwrote {RESULTS / 'platform.md'} and platform.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
