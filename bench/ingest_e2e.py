"""Acceptance run of S3 batch ingestion: 100,000 records through the real local platform.

Starts `sluice_local.platform` on free loopback ports, uploads a generated JSONL file (with a
few invalid lines, and personal data in some texts) to `incoming/intent/`, follows the batch
to completion, then checks from S3 alone that every record is accounted for:
received = succeeded + failed + rejected, one result line per queued record and none twice,
and the report present. Prints the figures and writes them to bench/results/ingest.md.

    .venv/bin/python bench/ingest_e2e.py [--records 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from results_md import write_section
from tqdm import tqdm

from sluice.uploads.model import Batch, BatchStatus
from sluice_local.launch import platform_process
from sluice_local.upload import LocalUploads

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TEXTS = [
    "I still have not received my new card",
    "How do I top up my account with Apple Pay?",
    "My card payment was declined at the shop",
    "Why was I charged a fee for a transfer?",
    "Please call me back, I am Maria Garcia and my email is maria.garcia@example.com",
    "The exchange rate on my statement looks wrong",
]
# One bad line every BAD_EVERY lines, cycling through these (line content → expected code).
BAD_LINES = [
    (b'{"id": "bad", "input": {"text": "cut short"', "MALFORMED_JSON"),
    (b'{"id": "bad", "input": {"note": "no text field"}}', "INVALID_REQUEST"),
    (b'{"id": "not an id!", "input": {"text": "x"}}', "INVALID_RECORD_ID"),
]
BAD_EVERY = 1000


def generate(path: Path, records: int) -> Counter[str]:
    """Write the file; returns the expected rejections by code."""
    expected: Counter[str] = Counter()
    with path.open("wb") as out:
        for number in range(1, records + 1):
            if number % BAD_EVERY == 0:
                raw, code = BAD_LINES[(number // BAD_EVERY) % len(BAD_LINES)]
                out.write(raw + b"\n")
                expected[code] += 1
                continue
            line = {"id": f"r-{number}", "input": {"text": TEXTS[number % len(TEXTS)]}}
            out.write(json.dumps(line).encode() + b"\n")
    return expected


def result_lines(uploads: LocalUploads, prefix: str) -> list[dict[str, Any]]:
    keys: list[str] = []
    for page in uploads.s3.get_paginator("list_objects_v2").paginate(Bucket=uploads.bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))

    def read(key: str) -> list[dict[str, Any]]:
        body = uploads.s3.get_object(Bucket=uploads.bucket, Key=key)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines()]

    found: list[dict[str, Any]] = []
    with ThreadPoolExecutor(8) as pool, tqdm(total=len(keys), desc="read results", unit="part") as bar:
        for lines in pool.map(read, keys):
            found.extend(lines)
            bar.update()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=3 * 3600)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp())
    path = work / f"acceptance-{args.records}.jsonl"
    expected_rejections = generate(path, args.records)
    print(f"generated {path} ({path.stat().st_size / 1e6:.1f} MB, {args.records} lines)", flush=True)

    with platform_process() as outputs:
        uploads = LocalUploads.from_outputs(outputs)
        started = time.monotonic()
        source = uploads.upload(path, "intent")
        uploaded = time.monotonic()
        read_at: list[float] = []

        def note_read(batch: Batch) -> None:
            if batch.status is not BatchStatus.READING and not read_at:
                read_at.append(time.monotonic())

        batch = uploads.follow(source, timeout_s=args.timeout, on_change=note_read)
        finished = time.monotonic()
        report = uploads.report(batch)
        results = result_lines(uploads, batch.results_prefix)

    job_ids = Counter(line["job_id"] for line in results)
    numbers = Counter(line["line"] for line in results)
    checks = {
        "received = succeeded + failed + rejected": batch.received
        == batch.succeeded + batch.failed + batch.rejected,
        "every line received": batch.received == args.records,
        "rejections as planted": batch.rejected_by_code == dict(expected_rejections),
        "one result line per queued record": len(results) == batch.queued == batch.succeeded + batch.failed,
        "no job id twice in the results": max(job_ids.values(), default=1) == 1,
        "no line number twice in the results": max(numbers.values(), default=1) == 1,
        "the report has the final counts": (report["status"], report["received"], report["succeeded"])
        == ("completed", batch.received, batch.succeeded),
    }
    read_s = (read_at[0] if read_at else finished) - uploaded
    rows = [
        ("records (lines)", f"{args.records:,}"),
        ("received / rejected / queued", f"{batch.received:,} / {batch.rejected:,} / {batch.queued:,}"),
        ("succeeded / failed", f"{batch.succeeded:,} / {batch.failed:,}"),
        ("result lines / distinct job ids", f"{len(results):,} / {len(job_ids):,}"),
        ("upload", f"{uploaded - started:.1f} s ({path.stat().st_size / 1e6:.1f} MB)"),
        ("ingest: read, validate, redact, queue", f"{read_s:.0f} s ({args.records / read_s:.0f} records/s)"),
        ("upload to BatchCompleted", f"{finished - started:.0f} s ({args.records / (finished - started):.0f} records/s)"),
    ]  # fmt: skip
    table = "\n".join(["| | |", "|---|---:|", *(f"| {name} | {value} |" for name, value in rows)])
    verdict = "\n".join(f"- [{'x' if ok else ' '}] {name}" for name, ok in checks.items())
    body = (
        f"## {args.records:,} records through the local platform (`make ingest-e2e`)\n\n"
        "One JSONL upload to `incoming/intent/` on `make run`'s platform (moto, the real `ingest` and\n"
        "`worker` handlers, the real model behind the local endpoint); every check below is made from\n"
        f"the batch record and the objects in S3. One bad line in {BAD_EVERY}.\n\n"
        f"{table}\n\n{verdict}\n"
    )
    print("\n" + body)
    write_section(RESULTS / "ingest.md", "ingest-e2e", body, title="S3 batch ingestion: measured")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
