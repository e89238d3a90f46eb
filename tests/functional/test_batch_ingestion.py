"""S3 batch ingestion on moto: file → jobs → worker → results, report and BatchCompleted."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from sluice.adapters.dynamodb_batches import DynamoBatchStore
from sluice.adapters.dynamodb_jobs import DynamoJobStore
from sluice.adapters.eventbridge import EventBridgePublisher
from sluice.adapters.s3_objects import S3Objects
from sluice.adapters.sqs_batches import SqsBatchSender
from sluice.config import IngestConfig
from sluice.jobs.models import Job, JobMessage, JobStatus
from sluice.jobs.sqs_handler import handle_job_batch
from sluice.jobs.worker import JobWorker
from sluice.uploads.batches import BatchLedger
from sluice.uploads.model import SourceObject, batch_id_for
from sluice.uploads.s3_events import Ingestion, handle_ingest_batch
from sluice.uploads.service import IngestOutcome, IngestService
from sluice_local.lambda_events import sqs_event
from sluice_local.provision import route_table
from sluice_local.runtime import LocalContext
from sluice_local.uploads import provision_uploads
from tests.fakes import CountingRedactor
from tests.functional.conftest import REGION, Platform

NO_DEADLINE: Callable[[], int] = lambda: 10**9  # noqa: E731


class Killed(Exception):
    """Stands in for Lambda killing the invocation."""


class KillAfter:
    """A queue that dies after `sends` successful SendMessageBatch calls."""

    def __init__(self, queue: SqsBatchSender, sends: int) -> None:
        self._queue, self._left = queue, sends

    def send_batch(self, queue_url: str, messages: Any) -> None:
        if self._left == 0:
            raise Killed
        self._left -= 1
        self._queue.send_batch(queue_url, messages)


@dataclass
class Uploads:
    platform: Platform
    s3: Any
    bucket: str
    worker: JobWorker
    limits: IngestConfig

    def service(self, *, limits: IngestConfig | None = None, queue: Any = None) -> IngestService:
        p = self.platform
        return IngestService(
            routes=route_table(p.config, p.resources),
            limits=limits or self.limits,
            objects=S3Objects(self.s3, chunk_bytes=4096),
            batches=self._store(),
            jobs=DynamoJobStore(p.dynamodb, p.resources.jobs_table),
            queue=queue or SqsBatchSender(p.sqs),
            redactor=CountingRedactor(),
            ledger=self.ledger(),
        )

    def _store(self) -> DynamoBatchStore:
        r = self.platform.resources
        return DynamoBatchStore(self.platform.dynamodb, r.batches_table, jobs_table=r.jobs_table)

    def ledger(self) -> BatchLedger:
        events = EventBridgePublisher(self.platform.events, self.platform.resources.event_bus)
        return BatchLedger(batches=self._store(), objects=S3Objects(self.s3), events=events)

    def upload(self, key: str, body: bytes) -> SourceObject:
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return SourceObject(
            bucket=self.bucket,
            key=key,
            version_id=response.get("VersionId"),
            etag=response["ETag"],
            size=len(body),
        )

    def drain_jobs(self) -> None:
        p = self.platform
        while messages := p.receive(max_messages=10):
            event = sqs_event(messages, queue_arn=p.resources.routes["intent"].queue_arn, region=REGION)
            handle_job_batch(event, LocalContext(function_name="worker", timeout_seconds=60), self.worker)
            for message in messages:
                p.sqs.delete_message(
                    QueueUrl=p.resources.routes["intent"].queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def batch(self, source: SourceObject) -> Any:
        return self._store().get(batch_id_for(source.bucket, source.key, source.version))

    def report(self, source: SourceObject) -> dict[str, Any]:
        key = f"reports/{batch_id_for(source.bucket, source.key, source.version)}.json"
        return dict(json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()))

    def results(self, source: SourceObject) -> list[dict[str, Any]]:
        prefix = f"results/{batch_id_for(source.bucket, source.key, source.version)}/"
        keys = [
            o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        ]
        lines = []
        for key in keys:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
            lines.extend(json.loads(line) for line in body.splitlines())
        return sorted(lines, key=lambda line: line["line"])

    def queued_messages(self) -> list[JobMessage]:
        messages = []
        while batch := self.platform.receive(max_messages=10):
            messages.extend(JobMessage.model_validate_json(m["Body"]) for m in batch)
            for m in batch:
                self.platform.sqs.delete_message(
                    QueueUrl=self.platform.resources.routes["intent"].queue_url,
                    ReceiptHandle=m["ReceiptHandle"],
                )
        return messages


@pytest.fixture
def uploads(platform: Platform) -> Uploads:
    s3 = boto3.client("s3", region_name=REGION)
    resources = provision_uploads(
        platform.config, platform.resources, s3=s3, sqs=platform.sqs, dynamodb=platform.dynamodb
    )
    platform.resources = resources
    # A consumer of BatchCompleted, as in the platform fixture for InferenceCompleted.
    platform.events.put_rule(
        Name="batches",
        EventBusName=resources.event_bus,
        EventPattern=json.dumps({"source": ["sluice"], "detail-type": ["BatchCompleted"]}),
    )
    sink = platform.sqs.create_queue(QueueName="batch-events")["QueueUrl"]
    arn = platform.sqs.get_queue_attributes(QueueUrl=sink, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    platform.events.put_targets(
        Rule="batches", EventBusName=resources.event_bus, Targets=[{"Id": "s", "Arn": arn}]
    )
    limits = IngestConfig(checkpoint_every_records=10, time_reserve_ms=1000)
    uploads = Uploads(platform, s3, resources.uploads_bucket, platform.worker, limits)
    uploads.worker = JobWorker(
        routes=route_table(platform.config, resources),
        jobs=DynamoJobStore(platform.dynamodb, resources.jobs_table),
        endpoint=platform.endpoint,
        events=EventBridgePublisher(platform.events, resources.event_bus),
        lease_seconds=60,
        batches=uploads.ledger(),
    )
    uploads.batch_events_queue = sink  # type: ignore[attr-defined]
    return uploads


def _batch_events(uploads: Uploads) -> list[dict[str, Any]]:
    queue = uploads.batch_events_queue  # type: ignore[attr-defined]
    events = []
    while messages := uploads.platform.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        for m in messages:
            events.append(json.loads(m["Body"]))
            uploads.platform.sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return events


def _jsonl(count: int, *, bad: dict[int, bytes] | None = None) -> bytes:
    lines = [
        json.dumps({"id": f"r-{n}", "input": {"text": f"where is my card {n}"}}).encode()
        for n in range(1, count + 1)
    ]
    for number, raw in (bad or {}).items():
        lines[number - 1] = raw
    return b"\n".join(lines) + b"\n"


SECRET = b"jane.doe@example.com"
BAD_LINES = {
    3: b'{"id": "r-3", "input": {"text": "' + SECRET + b'"',  # truncated JSON
    5: b'{"id": "r-5", "input": {"note": "' + SECRET + b'"}}',  # no `text`
    7: b'{"id": "has spaces ' + SECRET + b'", "input": {"text": "x"}}',
    9: b'{"id": "r-9", "input": {"text": "caf\xe9 ' + SECRET + b'"}}',  # Latin-1, not UTF-8
}


def test_a_jsonl_file_is_queued_served_and_reported_with_every_record_accounted_for(uploads: Uploads) -> None:
    # Given a file of 25 records, 4 of them bad, uploaded under the route's prefix
    source = uploads.upload("incoming/intent/day-1.jsonl", _jsonl(25, bad=BAD_LINES))

    # When it is ingested and the worker serves its jobs
    assert uploads.service().ingest(source, remaining_ms=NO_DEADLINE) is IngestOutcome.DONE
    queued = uploads.batch(source)
    uploads.drain_jobs()

    # Then 21 jobs were queued, and the rejected lines are reported by number and code only
    assert (queued.received, queued.rejected, queued.queued) == (25, 4, 21)
    report = uploads.report(source)
    assert report["source"] == {"bucket": uploads.bucket, "key": source.key, "version_id": source.version_id}
    assert {k: report[k] for k in ("received", "rejected", "queued", "succeeded", "failed")} == {
        "received": 25,
        "rejected": 4,
        "queued": 21,
        "succeeded": 21,
        "failed": 0,
    }
    assert report["status"] == "completed"
    assert report["rejected_lines"] == [
        {"line": 3, "code": "MALFORMED_JSON"},
        {"line": 5, "code": "INVALID_REQUEST"},
        {"line": 7, "code": "INVALID_RECORD_ID"},
        {"line": 9, "code": "INVALID_UTF8"},
    ]
    assert SECRET.decode() not in json.dumps(report)
    # And every good line has one result line with its caller id and output
    results = uploads.results(source)
    assert [r["line"] for r in results] == [n for n in range(1, 26) if n not in BAD_LINES]
    assert all(r["id"] == f"r-{r['line']}" and r["status"] == "succeeded" and r["output"] for r in results)
    # And BatchCompleted was published once, with counts and no content
    events = _batch_events(uploads)
    assert len(events) == 1
    detail = events[0]["detail"]["detail"]
    assert (detail["status"], detail["received"], detail["succeeded"], detail["rejected"]) == (
        "completed",
        25,
        21,
        4,
    )
    assert "day-1" not in json.dumps(events[0])
    # And the raw upload, personal data and all, is gone: no version of it is kept
    versions = uploads.s3.list_object_versions(Bucket=uploads.bucket, Prefix=source.key)
    assert versions.get("Versions", []) == []
    assert versions.get("DeleteMarkers", []) == []


def test_the_raw_upload_stays_until_its_batch_is_complete(uploads: Uploads) -> None:
    # Given a file whose jobs are queued but not yet served
    source = uploads.upload("incoming/intent/pending.jsonl", _jsonl(5))
    assert uploads.service().ingest(source, remaining_ms=NO_DEADLINE) is IngestOutcome.DONE

    # Then the upload is still there (a resumed or redriven batch reads it again)
    assert uploads.s3.head_object(Bucket=uploads.bucket, Key=source.key, VersionId=source.version_id)

    # And once the worker finishes the last job, it is not
    uploads.drain_jobs()
    versions = uploads.s3.list_object_versions(Bucket=uploads.bucket, Prefix=source.key)
    assert versions.get("Versions", []) == []


def test_redelivered_jobs_and_repeated_events_count_once_and_complete_once(uploads: Uploads) -> None:
    # Given a served batch
    source = uploads.upload("incoming/intent/again.jsonl", _jsonl(12))
    uploads.service().ingest(source, remaining_ms=NO_DEADLINE)
    messages = uploads.platform.receive(max_messages=10) + uploads.platform.receive(max_messages=10)
    uploads.drain_jobs()
    # When SQS delivers its job messages again, and the S3 event arrives again
    queue_url = uploads.platform.resources.routes["intent"].queue_url
    for message in messages:
        uploads.platform.sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
    uploads.drain_jobs()
    assert uploads.service().ingest(source, remaining_ms=NO_DEADLINE) is IngestOutcome.DONE

    # Then the counts are unchanged and there is one event
    batch = uploads.batch(source)
    assert (batch.received, batch.succeeded, batch.failed) == (12, 12, 0)
    assert len(uploads.results(source)) == 12
    assert len(_batch_events(uploads)) == 1
    assert max(uploads.platform.endpoint.invocations_per_text.values()) == 1


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_run_killed_mid_file_resumes_to_the_same_results_as_a_clean_run(
    uploads: Uploads, compress: bool
) -> None:
    # Given the same 45-record file uploaded twice
    body = _jsonl(45, bad={20: b"not json"})
    body = gzip.compress(body) if compress else body
    clean = uploads.upload("incoming/intent/clean.jsonl", body)
    killed = uploads.upload("incoming/intent/killed.jsonl", body)

    # When one is ingested cleanly, and the other's invocation dies after 3 sends (past a
    # checkpoint, with records after it already queued) and the retried event resumes it
    uploads.service().ingest(clean, remaining_ms=NO_DEADLINE)
    clean_messages = uploads.queued_messages()
    queue = KillAfter(SqsBatchSender(uploads.platform.sqs), sends=3)
    with pytest.raises(Killed):
        uploads.service(queue=queue).ingest(killed, remaining_ms=NO_DEADLINE)
    assert 0 < uploads.batch(killed).line < 45
    assert uploads.service().ingest(killed, remaining_ms=NO_DEADLINE) is IngestOutcome.DONE
    killed_messages = uploads.queued_messages()

    # Then the resumed file queued every record (some sent twice, each one job) and no other
    lines = sorted({m.line for m in killed_messages})
    assert lines == sorted(m.line for m in clean_messages) == [n for n in range(1, 46) if n != 20]
    assert len({m.job_id for m in killed_messages}) == 44
    # And once served, both batches have identical counts and results
    for message in clean_messages + killed_messages:
        uploads.platform.sqs.send_message(
            QueueUrl=uploads.platform.resources.routes["intent"].queue_url,
            MessageBody=message.model_dump_json(),
        )
    uploads.drain_jobs()
    counts = ("received", "rejected", "queued", "succeeded", "failed", "rejected_lines", "status")
    assert {k: uploads.report(killed)[k] for k in counts} == {k: uploads.report(clean)[k] for k in counts}
    assert uploads.report(clean)["succeeded"] == 44

    def comparable(results: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["line"], r["id"], r["status"], json.dumps(r["output"])) for r in results]

    assert comparable(uploads.results(killed)) == comparable(uploads.results(clean))


def test_running_out_of_time_checkpoints_and_continues_through_the_queue(uploads: Uploads) -> None:
    # Given a file, and invocations with time for about 30 lines each
    uploads.upload("incoming/intent/long.jsonl", _jsonl(70))
    ingest_queue = uploads.platform.resources.ingest_queue_url

    class Context(LocalContext):
        calls = 0

        def get_remaining_time_in_millis(self) -> int:
            self.calls += 1  # once per line: under the 1000 ms reserve after 30 lines
            return 1000 + 10 * (30 - self.calls)

    ingestion = Ingestion(
        service=uploads.service(), continuations=SqsBatchSender(uploads.platform.sqs), queue_url=ingest_queue
    )
    # When the S3 notification (delivered by moto, after its test event) is processed until the queue is empty
    invocations = 0
    while messages := uploads.platform.sqs.receive_message(QueueUrl=ingest_queue, MaxNumberOfMessages=1).get(
        "Messages"
    ):
        event = sqs_event(messages, queue_arn=uploads.platform.resources.ingest_queue_arn, region=REGION)
        response = handle_ingest_batch(event, Context(function_name="ingest", timeout_seconds=900), ingestion)
        assert response["batchItemFailures"] == []
        uploads.platform.sqs.delete_message(QueueUrl=ingest_queue, ReceiptHandle=messages[0]["ReceiptHandle"])
        invocations += 1

    # Then it took several invocations and every record was queued exactly once per line
    assert invocations >= 3
    lines = [m.line for m in uploads.queued_messages()]
    assert sorted(set(lines)) == list(range(1, 71))


@pytest.mark.parametrize(
    ("key", "body", "code"),
    [
        ("incoming/nope/a.jsonl", _jsonl(3), "UNKNOWN_ROUTE"),
        ("incoming/intent/a.txt", _jsonl(3), "UNSUPPORTED_FORMAT"),
        ("incoming/intent/empty.jsonl", b"", "EMPTY_FILE"),
        ("incoming/intent/blank.jsonl", b"\n\n  \n", "EMPTY_FILE"),
        ("incoming/intent/header.csv", b"id,text\n", "NO_RECORDS"),
        ("incoming/intent/cols.csv", b"id,body\n1,hello\n", "CSV_MISSING_COLUMNS"),
        ("incoming/intent/utf16.jsonl", '{"input": {"text": "hi"}}\n'.encode("utf-16"), "FILE_NOT_UTF8"),
        ("incoming/intent/csv.jsonl", b"id,text\n1,hello\n", "WRONG_FORMAT"),
        ("incoming/intent/array.jsonl", b'[{"input": {"text": "hi"}}]\n', "WRONG_FORMAT"),
        ("incoming/intent/big.jsonl", _jsonl(2000), "FILE_TOO_LARGE"),
        ("incoming/intent/bomb.jsonl.gz", gzip.compress(b"a" * 40_000_000), "DECOMPRESSION_BOMB"),
    ],
)
def test_bad_files_get_a_clear_report_and_queue_nothing(
    uploads: Uploads, key: str, body: bytes, code: str
) -> None:
    # Given a bad file
    source = uploads.upload(key, body)
    limits = uploads.limits.model_copy(update={"max_file_bytes": 100_000, "max_decompression_ratio": 100})

    # When it is ingested
    assert uploads.service(limits=limits).ingest(source, remaining_ms=NO_DEADLINE) is IngestOutcome.DONE

    # Then the report names the problem, nothing was queued, and the batch is closed
    report = uploads.report(source)
    assert report["error"]["code"] == code
    assert (report["queued"], report["status"]) == (0, "completed")
    assert uploads.queued_messages() == []
    [event] = _batch_events(uploads)
    assert (event["detail"]["detail"]["status"], event["detail"]["detail"]["error_code"]) == ("failed", code)


def test_a_truncated_gzip_keeps_what_was_queued_and_says_where_it_stopped(uploads: Uploads) -> None:
    # Given a gzip file cut short
    body = gzip.compress(_jsonl(300))
    source = uploads.upload("incoming/intent/cut.jsonl.gz", body[: len(body) // 2])

    # When it is ingested and served
    uploads.service().ingest(source, remaining_ms=NO_DEADLINE)
    uploads.drain_jobs()

    # Then the records before the cut were queued and served, and the report says why it stopped
    report = uploads.report(source)
    assert report["error"]["code"] == "GZIP_TRUNCATED"
    assert 0 < report["queued"] == report["succeeded"] == report["received"] < 300
    assert report["status"] == "completed"


def test_csv_columns_map_to_input_fields(uploads: Uploads) -> None:
    # Given a CSV file with an id column and a quoted field
    source = uploads.upload(
        "incoming/intent/rows.csv", b'id,text\r\nc-1,"top up failed, twice"\r\nc-2,card lost\r\n,\r\n'
    )

    # When it is ingested
    uploads.service().ingest(source, remaining_ms=NO_DEADLINE)

    # Then each row became a job with its id and fields; the empty row was rejected
    messages = sorted(uploads.queued_messages(), key=lambda m: m.line or 0)
    assert [(m.line, m.record_id, m.input) for m in messages] == [
        (2, "c-1", {"text": "top up failed, twice"}),
        (3, "c-2", {"text": "card lost"}),
    ]
    assert uploads.batch(source).rejections[0].code == "INVALID_REQUEST"


def test_outcomes_of_a_group_count_once_even_when_one_was_counted_before(uploads: Uploads) -> None:
    # Given three queued jobs of a batch, the first already counted (by a concurrent delivery)
    source = uploads.upload("incoming/intent/race.jsonl", _jsonl(3))
    uploads.service().ingest(source, remaining_ms=NO_DEADLINE)
    first, second, third = (m.job_id for m in uploads.queued_messages())
    store, batch_id = uploads._store(), uploads.batch(source).id
    assert store.record_outcomes(batch_id, [(first, JobStatus.SUCCEEDED)]) == 1

    # When the group with all three is counted
    counted = store.record_outcomes(
        batch_id, [(first, JobStatus.SUCCEEDED), (second, JobStatus.SUCCEEDED), (third, JobStatus.FAILED)]
    )

    # Then only the two new ones count, each under its own status
    assert counted == 2
    batch = uploads.batch(source)
    assert (batch.succeeded, batch.failed) == (2, 1)


def test_job_records_are_created_together_and_an_existing_one_is_kept(uploads: Uploads) -> None:
    # Given a job that a first, interrupted run created and the worker has since claimed
    store = DynamoJobStore(uploads.platform.dynamodb, uploads.platform.resources.jobs_table)
    first = Job(id="job-1", tenant="uploads", route="intent", batch_id="b", line=1)
    store.create(first)
    store.claim("job-1", lease_seconds=60, now=first.created_at)

    # When a resumed run creates the jobs of the same lines and a new one
    created = store.create_all_if_absent([first, first.model_copy(update={"id": "job-2", "line": 2})])

    # Then only the new one is created and the claimed one keeps its state
    assert created == 1
    assert store.get("job-1").status is JobStatus.RUNNING
    assert store.get("job-2").status is JobStatus.QUEUED


def test_uploaded_records_are_guarded_where_their_results_are_written(uploads: Uploads) -> None:
    from sluice.guardrails.guard import OutputGuard
    from sluice.pii.input_redactor import PiiInputRedactor

    # Given the worker with the routes' output guardrails, and a model unsure of record 2 and
    # answering record 3 with something that is not a classification
    resources = uploads.platform.resources
    uploads.worker = JobWorker(
        routes=route_table(uploads.platform.config, resources),
        jobs=DynamoJobStore(uploads.platform.dynamodb, resources.jobs_table),
        endpoint=uploads.platform.endpoint,
        events=EventBridgePublisher(uploads.platform.events, resources.event_bus),
        lease_seconds=60,
        batches=uploads.ledger(),
        guard=OutputGuard(redactor=PiiInputRedactor()),
    )

    def answer(item: dict[str, Any]) -> dict[str, Any]:
        number = item["text"].rsplit(" ", 1)[1]
        score = {"2": 0.2}.get(number, 0.9)
        return {"intent": "?"} if number == "3" else {"intents": [{"label": "card_arrival", "score": score}]}

    uploads.platform.endpoint.answer = answer
    source = uploads.upload("incoming/intent/guarded.jsonl", _jsonl(3))
    # When the file is ingested and its jobs served
    assert uploads.service().ingest(source, remaining_ms=NO_DEADLINE) is IngestOutcome.DONE
    uploads.drain_jobs()
    # Then each result line says what the guardrails found; the blocked one carries its code
    results = {r["id"]: r for r in uploads.results(source)}
    assert results["r-1"]["guardrails"]["flagged"] == []
    assert results["r-2"]["guardrails"]["flagged"] == ["confidence"]
    assert (results["r-3"]["status"], results["r-3"]["error"]["code"]) == (
        "failed",
        "OUTPUT_SCHEMA_VIOLATION",
    )
    report = uploads.report(source)
    assert (report["succeeded"], report["failed"]) == (2, 1)
