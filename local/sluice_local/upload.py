"""`make upload`: put a file of records into the local uploads bucket and follow its batch.

    python -m sluice_local.upload --file records.jsonl --route intent

Uploads to `incoming/<route>/<file name>` on the running platform (`make run`, found through
`.sluice/outputs.json`) with a progress bar, then follows the batch record until every record
is final and prints the report's summary. Exits 1 if the file was rejected or the batch did
not finish in time. The upload triggers the same flow as deployed (S3 event → SQS → ingest).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sluice.adapters.dynamodb_batches import DynamoBatchStore
from sluice.uploads.model import Batch, BatchStatus, SourceObject, batch_id_for
from sluice_local.outputs import DEFAULT_OUTPUTS, local_session, read_outputs


@dataclass(frozen=True)
class LocalUploads:
    """The uploads bucket and the batches table of a running local platform."""

    s3: Any
    batches: DynamoBatchStore
    bucket: str

    @classmethod
    def from_outputs(cls, outputs: dict[str, Any]) -> LocalUploads:
        if "UploadsBucket" not in outputs:
            raise SystemExit("the running platform has no uploads bucket: restart `make run`")
        session = local_session(outputs)
        endpoint = outputs["AwsEndpointUrl"]
        batches = DynamoBatchStore(
            session.client("dynamodb", endpoint_url=outputs.get("DynamoDbEndpointUrl", endpoint)),
            outputs["BatchesTableName"],
            jobs_table=outputs["JobsTableName"],
        )
        return cls(session.client("s3", endpoint_url=endpoint), batches, outputs["UploadsBucket"])

    def upload(self, path: Path, route: str, *, show_progress: bool = True) -> SourceObject:
        key = f"incoming/{route}/{path.name}"
        size = path.stat().st_size
        with (
            path.open("rb") as body,
            tqdm(total=size, unit="B", unit_scale=True, desc="upload", disable=not show_progress) as bar,
        ):
            self.s3.upload_fileobj(body, self.bucket, key, Callback=bar.update)
        # upload_fileobj returns nothing; the version just written is the key's latest (a
        # concurrent upload to the same key could win this race: use distinct names).
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        return SourceObject(
            bucket=self.bucket, key=key, version_id=head.get("VersionId"), etag=head["ETag"], size=size
        )

    def follow(
        self,
        source: SourceObject,
        *,
        timeout_s: float,
        poll_s: float = 0.5,
        show_progress: bool = True,
        on_change: Callable[[Batch], None] = lambda _: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> Batch:
        """Poll the batch record until every record is final; a bar counts final records."""
        batch_id = batch_id_for(source.bucket, source.key, source.version)
        deadline = clock() + timeout_s
        with tqdm(total=0, unit="rec", desc="records final", disable=not show_progress) as bar:
            while True:
                batch = self.batches.get(batch_id)
                if batch is not None:
                    on_change(batch)
                    bar.total = batch.received
                    bar.n = batch.succeeded + batch.failed + batch.rejected
                    bar.set_postfix_str(f"queued {batch.queued}, {batch.status}", refresh=False)
                    bar.refresh()
                    # The final report is written before the event is published.
                    if batch.status is BatchStatus.COMPLETED and batch.event_published:
                        return batch
                if clock() > deadline:
                    where = "never started" if batch is None else f"is still {batch.status}"
                    raise TimeoutError(f"batch {batch_id} {where} after {timeout_s:.0f}s")
                time.sleep(poll_s)

    def report(self, batch: Batch) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=self.bucket, Key=batch.report_key)["Body"].read()
        return dict(json.loads(body))


def summary(report: dict[str, Any]) -> str:
    counts = ", ".join(
        f"{name} {report[name]}" for name in ("received", "rejected", "queued", "succeeded", "failed")
    )
    lines = [f"batch {report['batch_id']}: {report['status']}; {counts}"]
    if report["error"]:
        lines.append(f"file rejected: {report['error']['code']}: {report['error']['message']}")
    if report["rejected_by_code"]:
        by_code = ", ".join(f"{code} {count}" for code, count in sorted(report["rejected_by_code"].items()))
        lines.append(f"rejected lines by code: {by_code}")
    bucket = report["source"]["bucket"]
    lines.append(f"report:  s3://{bucket}/reports/{report['batch_id']}.json")
    lines.append(f"results: s3://{bucket}/{report['results_prefix']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", type=Path, required=True, help="JSONL or CSV, optionally gzip'd")
    parser.add_argument("--route", required=True, help="the route the records go to (the key prefix)")
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS, help="the platform's outputs.json")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the batch")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"no such file: {args.file}")
    if not args.outputs.exists():
        parser.error(f"{args.outputs} not found: start the platform with `make run` first")

    uploads = LocalUploads.from_outputs(read_outputs(args.outputs))
    source = uploads.upload(args.file, args.route)
    print(f"uploaded s3://{source.bucket}/{source.key} (version {source.version})", flush=True)
    try:
        batch = uploads.follow(source, timeout_s=args.timeout)
    except TimeoutError as error:
        print(f"{error}: is the platform (`make run`) still running?", file=sys.stderr)
        return 1
    print(summary(uploads.report(batch)))
    return 1 if batch.error else 0


if __name__ == "__main__":
    sys.exit(main())
