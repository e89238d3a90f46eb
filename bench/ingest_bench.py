"""Peak memory of `ingest` as the file grows: the same code at 10,000 and 1,000,000 records.

Each size runs in a fresh process (the peak RSS of a process only ever grows) through the real
`IngestService`: streaming in 256 KiB chunks, line splitting, JSON parsing, validation, PII
redaction, job messages in chunks of 10, checkpoints and report rewrites. What ingestion talks
to is in memory and keeps nothing: the object is read from a local file, jobs and messages are
counted and dropped, the batch record is one object. So the growth measured is ingestion's own,
which is what must stay flat for a file of several GB to fit in 512 MB of Lambda memory.

Reports, per size: peak RSS of the process, its growth over the process before the file was
read (imports, the PII word lists, a 1,000-record warm-up), and records per second. Writes
bench/results/ingest.md (its own section) and prints the table.

    .venv/bin/python bench/ingest_bench.py [--sizes 10000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from results_md import write_section
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CHUNK_BYTES = 256 * 1024  # what S3Objects reads per ranged GET on AWS
TEXTS = [
    "I still have not received my new card",
    "How do I top up my account with Apple Pay?",
    "my card payment was declined at the shop, call me on 415-555-0199",
    "Why was I charged a fee for a transfer?",
    "I am Maria Garcia and my email is maria.garcia@example.com, where is my refund",
    "The exchange rate on my statement looks wrong",
]


def generate(path: Path, records: int) -> None:
    with path.open("w") as out:
        for number in range(1, records + 1):
            line = {"id": f"r-{number}", "input": {"text": TEXTS[number % len(TEXTS)]}}
            out.write(json.dumps(line) + "\n")


# --- in-memory stand-ins that keep nothing -------------------------------------------------------


class FileObjects:
    """An ObjectStore over one local file, read in S3-sized chunks; `put` keeps only a count."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.puts = 0

    def read(self, bucket: str, key: str, *, version_id: str | None, start: int = 0) -> Iterator[bytes]:
        with self._path.open("rb") as source:
            source.seek(start)
            while chunk := source.read(CHUNK_BYTES):
                yield chunk

    def put(self, bucket: str, key: str, body: bytes, *, content_type: str) -> None:
        self.puts += 1


class OneBatch:
    """A BatchStore holding the one batch being read, as DynamoDB would hold its record."""

    def __init__(self) -> None:
        self.batch: Any = None

    def start(self, batch: Any) -> Any:
        self.batch = self.batch or batch
        return self.batch

    def get(self, batch_id: str) -> Any:
        return self.batch

    def checkpoint(self, batch: Any, *, previous_line: int) -> None:
        self.batch = batch.model_copy()  # what DynamoDB stores is a copy, not the live object

    def record_outcomes(self, batch_id: str, outcomes: Sequence[tuple[str, Any]]) -> int:
        return len(outcomes)

    def claim_completion(self, batch_id: str) -> bool:
        return False  # no job is served here: the batch stays `read`

    def mark_event_published(self, batch_id: str, *, now: datetime) -> None:
        pass


class Dropped:
    """Job records, queue messages and events: counted, not kept."""

    def __init__(self) -> None:
        self.jobs = self.messages = 0

    def create_all_if_absent(self, jobs: Sequence[Any]) -> int:
        self.jobs += len(jobs)
        return len(jobs)

    def send_batch(self, queue_url: str, messages: Sequence[Any]) -> None:
        self.messages += len(messages)

    def publish(self, event: Any) -> None:
        pass


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(path: Path, records: int) -> dict[str, float]:
    """Ingest `path` once in this process; returns the figures."""
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SluiceBench")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from sluice import pii
    from sluice.pii.input_redactor import PiiInputRedactor
    from sluice.routing.table import RouteTable, RouteTarget
    from sluice.uploads.batches import BatchLedger
    from sluice.uploads.model import SourceObject
    from sluice.uploads.service import IngestService
    from sluice_local.platform import load_config

    config = load_config()  # cdk.json, as `make run` reads it
    routes = RouteTable(
        routes={
            route.name: RouteTarget.from_config(
                route, queue_url=f"memory://{route.name}", endpoint_name="none"
            )
            for route in config.routes
        }
    )
    key_file = Path(tempfile.mkdtemp()) / "pii.key"

    def service_for(file: Path) -> tuple[IngestService, OneBatch, Dropped]:
        objects, batches, dropped = FileObjects(file), OneBatch(), Dropped()
        ledger = BatchLedger(batches=batches, objects=objects, events=dropped)
        service = IngestService(
            routes=routes,
            limits=config.ingest,
            objects=objects,
            batches=batches,
            jobs=dropped,
            queue=dropped,
            redactor=PiiInputRedactor(key_provider=pii.LocalKeyFile(key_file)),
            ledger=ledger,
        )
        return service, batches, dropped

    def source(file: Path, name: str) -> SourceObject:
        size = file.stat().st_size
        return SourceObject(
            bucket="bench", key=f"incoming/intent/{name}", version_id="1", etag="e", size=size
        )

    warm = path.with_name("warm-up.jsonl")
    generate(warm, 1000)
    service, _, _ = service_for(warm)
    service.ingest(source(warm, "warm-up.jsonl"), remaining_ms=lambda: 900_000)

    before = _peak_rss_mb()
    service, batches, dropped = service_for(path)
    started = time.perf_counter()
    service.ingest(source(path, path.name), remaining_ms=lambda: 900_000)
    seconds = time.perf_counter() - started
    batch = batches.batch
    if (batch.received, dropped.messages) != (records, records):
        raise SystemExit(f"expected {records} records queued, got {batch.received} / {dropped.messages}")
    return {
        "records": records,
        "peak_rss_mb": _peak_rss_mb(),
        "growth_mb": _peak_rss_mb() - before,
        "records_per_second": records / seconds,
        "file_mb": path.stat().st_size / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one size, in a child process
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.sizes[0])))
        return 0

    work = Path(tempfile.mkdtemp())
    figures = []
    for records in tqdm(args.sizes, desc="sizes", unit="file"):
        path = work / f"records-{records}.jsonl"
        generate(path, records)
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(path), "--sizes", str(records)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        figures.append(json.loads(child.stdout.strip().splitlines()[-1]))
        path.unlink()

    rows = [
        f"| {f['records']:,.0f} | {f['file_mb']:.0f} MB | {f['peak_rss_mb']:.0f} MB | "
        f"{f['growth_mb']:+.1f} MB | {f['records_per_second']:,.0f} |"
        for f in figures
    ]
    body = "\n".join(
        [
            "## Peak memory of `ingest` as the file grows (`make ingest-bench`)",
            "",
            "The real `IngestService` (stream, parse, validate, redact, queue, checkpoint, report) in a",
            "fresh process per size, against in-memory stand-ins that keep nothing; growth is the peak RSS",
            "over the process after imports and a 1,000-record warm-up.",
            "",
            "| records | file | peak RSS | growth while reading | records/s |",
            "|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    print("\n" + body)
    write_section(RESULTS / "ingest.md", "ingest-memory", body, title="S3 batch ingestion: measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
