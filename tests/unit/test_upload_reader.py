"""Reading an uploaded object: gzip behind a bomb guard, then numbered lines; and batch results.

`sluice.uploads.reader` is what ingestion streams every upload through: `gunzip` (multi-member,
bounded output per step, DECOMPRESSION_BOMB / GZIP_TRUNCATED / GZIP_CORRUPT) and `split_lines`
(LF lines, one CR before the LF dropped, over-long lines reported without their bytes, each with
its number and the offset just after it, which is where a resumed read starts). The chunking of
the stream must never change the lines. At the end, the pure parts of `BatchLedger`: the results
lines and report it writes, and the `BatchCompleted` event, against in-memory ports.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.errors import DECOMPRESSION_BOMB, GZIP_CORRUPT, GZIP_TRUNCATED, FileRejected
from sluice.events import BatchCompleted, Event
from sluice.guardrails.models import CheckName, GuardrailReport
from sluice.jobs.models import ErrorDetail, Job, JobStatus
from sluice.uploads.batches import BatchLedger, _result_line
from sluice.uploads.model import Batch, BatchStatus
from sluice.uploads.reader import Line, gunzip, is_gzip, split_lines

BIG = 10**9  # a limit that is not under test


def _body(data: bytes, size: int) -> Iterator[bytes]:
    """The object as the S3 body streams it: `read(size)` until an empty read."""
    stream = io.BytesIO(data)
    while chunk := stream.read(size):
        yield chunk


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _lines(chunks: Iterable[bytes], *, max_line_bytes: int = BIG, **kwargs: int) -> list[Line]:
    return list(split_lines(chunks, max_line_bytes=max_line_bytes, **kwargs))


def _gunzip(chunks: Iterable[bytes], **limits: int) -> bytes:
    limits = {"max_ratio": BIG, "max_bytes": BIG} | limits
    return b"".join(gunzip(chunks, **limits))


def _rejected(chunks: Iterable[bytes], **limits: int) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        _gunzip(chunks, **limits)
    return caught.value


# --- is_gzip -------------------------------------------------------------------------------------


def test_gzip_is_recognised_by_its_two_magic_bytes_alone() -> None:
    assert is_gzip(_gz(b"x"))
    assert is_gzip(b"\x1f\x8b")
    assert not is_gzip(b'{"id": 1}\n')
    assert not is_gzip(b"\x1f")  # a one-byte object cannot be gzip
    assert not is_gzip(b"\x8b\x1f")
    assert not is_gzip(b"")


# --- split_lines: splitting and numbering --------------------------------------------------------


def test_lines_are_numbered_from_one_and_end_just_after_their_newline_by_default() -> None:
    assert _lines([b"ab\ncde\n"]) == [Line(1, b"ab", 3), Line(2, b"cde", 7)]


def test_a_resumed_read_numbers_and_places_lines_from_where_it_starts() -> None:
    lines = _lines([b"ab\ncde\n"], first_number=41, start=1000)

    assert lines == [Line(41, b"ab", 1003), Line(42, b"cde", 1007)]


def test_the_last_line_without_a_newline_is_still_a_line_ending_at_the_end_of_the_stream() -> None:
    assert _lines([b"ab\ncd"]) == [Line(1, b"ab", 3), Line(2, b"cd", 5)]
    assert _lines([b"ab", b"cd"], start=10) == [Line(1, b"abcd", 14)]


def test_an_empty_stream_has_no_lines() -> None:
    assert _lines([]) == []
    assert _lines([b"", b""]) == []


def test_a_stream_ending_in_a_newline_has_no_extra_empty_line() -> None:
    assert _lines([b"a\n"]) == [Line(1, b"a", 2)]


def test_empty_lines_are_kept_as_empty_lines() -> None:
    assert _lines([b"\n\na\n"]) == [Line(1, b"", 1), Line(2, b"", 2), Line(3, b"a", 4)]


def test_a_newline_at_the_start_of_a_chunk_ends_the_line_of_the_previous_chunk() -> None:
    lines = _lines([b"ab", b"\ncd", b"\n", b"\n"])

    assert lines == [Line(1, b"ab", 3), Line(2, b"cd", 6), Line(3, b"", 7)]


def test_a_line_split_over_many_chunks_is_joined_and_offsets_count_every_chunk() -> None:
    lines = _lines([b"x\nab", b"c", b"de", b"f\ngh\n", b"i"])

    assert lines == [Line(1, b"x", 2), Line(2, b"abcdef", 9), Line(3, b"gh", 12), Line(4, b"i", 13)]


def test_offsets_of_lines_deep_in_a_later_chunk_are_absolute() -> None:
    lines = _lines([b"0123456789", b"abc\ndefg\nhi\n"], start=5)

    assert [line.end for line in lines] == [5 + 14, 5 + 19, 5 + 22]


# --- split_lines: CRLF ---------------------------------------------------------------------------


def test_a_crlf_line_ending_gives_the_line_without_its_cr() -> None:
    assert _lines([b"ab\r\ncd\r\n"]) == [Line(1, b"ab", 4), Line(2, b"cd", 8)]


def test_a_cr_and_its_lf_in_different_chunks_still_make_one_crlf_ending() -> None:
    assert _lines([b"ab\r", b"\ncd"]) == [Line(1, b"ab", 4), Line(2, b"cd", 6)]


def test_only_one_cr_right_before_the_lf_is_dropped_and_other_crs_are_content() -> None:
    assert _lines([b"a\rb\n"]) == [Line(1, b"a\rb", 4)]
    assert _lines([b"a\r\r\n"]) == [Line(1, b"a\r", 4)]
    assert _lines([b"\r\n"]) == [Line(1, b"", 2)]


def test_the_last_line_loses_a_trailing_cr_too() -> None:
    assert _lines([b"a\n", b"b\r"]) == [Line(1, b"a", 2), Line(2, b"b", 4)]


# --- split_lines: the line-length limit ----------------------------------------------------------


def test_a_line_of_exactly_the_limit_is_kept_and_one_byte_more_is_not() -> None:
    lines = _lines([b"abc\nabcd\nxy\n"], max_line_bytes=3)

    assert lines == [Line(1, b"abc", 4), Line(2, None, 9), Line(3, b"xy", 12)]


def test_a_line_reaching_the_limit_at_a_chunk_end_is_kept_when_its_newline_comes_next() -> None:
    assert _lines([b"abc", b"\n"], max_line_bytes=3) == [Line(1, b"abc", 4)]
    assert _lines([b"ab", b"c\n"], max_line_bytes=3) == [Line(1, b"abc", 4)]
    assert _lines([b"a", b"b", b"c", b"\n"], max_line_bytes=3) == [Line(1, b"abc", 4)]


def test_a_line_passing_the_limit_in_one_chunk_stays_rejected_whatever_follows() -> None:
    lines = _lines([b"abcd", b"e\nok\n"], max_line_bytes=3)

    assert lines == [Line(1, None, 6), Line(2, b"ok", 9)]


def test_a_line_passing_the_limit_only_once_chunks_are_joined_is_rejected() -> None:
    lines = _lines([b"ab", b"cd", b"ef", b"\nok\n"], max_line_bytes=3)

    assert lines == [Line(1, None, 7), Line(2, b"ok", 10)]


def test_an_over_long_last_line_without_a_newline_is_reported_without_its_bytes() -> None:
    assert _lines([b"ok\nabcd"], max_line_bytes=3) == [Line(1, b"ok", 3), Line(2, None, 7)]
    assert _lines([b"ok\nab", b"cd"], max_line_bytes=3) == [Line(1, b"ok", 3), Line(2, None, 7)]


def test_a_last_line_without_a_newline_of_exactly_the_limit_is_kept() -> None:
    assert _lines([b"ok\nabc"], max_line_bytes=3) == [Line(1, b"ok", 3), Line(2, b"abc", 6)]


def test_the_limit_counts_the_physical_line_so_a_cr_before_the_lf_counts_too() -> None:
    assert _lines([b"abc\r\n"], max_line_bytes=3) == [Line(1, None, 5)]
    assert _lines([b"ab\r\n"], max_line_bytes=3) == [Line(1, b"ab", 4)]


def _reference_lines(data: bytes, max_line_bytes: int) -> list[Line]:
    """What `split_lines` promises, from the whole stream at once: LF-separated physical lines
    (the last one even without an LF), over-long ones (CR included) without their bytes, a
    trailing CR dropped, each numbered and ending just after its LF."""
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()
    lines, end = [], 0
    for number, piece in enumerate(pieces, start=1):
        end = min(end + len(piece) + 1, len(data))
        kept = piece[:-1] if piece.endswith(b"\r") else piece
        lines.append(Line(number, None if len(piece) > max_line_bytes else kept, end))
    return lines


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"b", b"\r", b"\n", b"\r\n"]), max_size=40).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=100), max_size=8),
    max_line_bytes=st.integers(min_value=0, max_value=6),
)
def test_any_chunking_of_a_stream_gives_the_same_lines(
    data: bytes, cuts: list[int], max_line_bytes: int
) -> None:
    assert _lines(_cut(data, cuts), max_line_bytes=max_line_bytes) == _reference_lines(data, max_line_bytes)


# --- gunzip --------------------------------------------------------------------------------------


def test_a_gzip_file_decompresses_whole_in_any_chunk_size() -> None:
    data = b"".join(b'{"id": "r-%d"}\n' % n for n in range(500))
    compressed = _gz(data)

    for size in (1, 7, 64, len(compressed)):
        assert _gunzip(_body(compressed, size)) == data


def test_concatenated_gzip_members_are_one_file() -> None:
    first, second = _gz(b"a\nb\n"), _gz(b"c\n")
    joined = first + second

    assert _gunzip([joined]) == b"a\nb\nc\n"
    assert _gunzip([first, second]) == b"a\nb\nc\n"  # a chunk boundary on the member boundary
    assert _gunzip(_body(joined, 3)) == b"a\nb\nc\n"


def test_an_empty_stream_decompresses_to_nothing_without_an_error() -> None:
    assert list(gunzip([], max_ratio=1, max_bytes=1)) == []
    assert list(gunzip([b""], max_ratio=1, max_bytes=1)) == []


def test_a_gzip_of_nothing_decompresses_to_nothing() -> None:
    assert _gunzip([_gz(b"")]) == b""


def test_a_gzip_stream_cut_anywhere_before_its_end_is_truncated() -> None:
    compressed = _gz(b"hello world\n" * 3)

    for length in range(1, len(compressed)):
        error = _rejected([compressed[:length]])
        assert error.code == GZIP_TRUNCATED
        # The message lands in the batch report.
        assert error.message == "the gzip stream ends before its end marker"


def test_a_second_member_cut_short_is_truncated_after_the_first_members_output() -> None:
    stream = gunzip([_gz(b"first\n") + _gz(b"second\n")[:-4]], max_ratio=BIG, max_bytes=BIG)

    assert next(stream) == b"first\n"
    with pytest.raises(FileRejected) as caught:
        list(stream)
    assert caught.value.code == GZIP_TRUNCATED


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(b"\x1f\x8b\x09" + b"\x00" * 20, id="unknown-method"),
        pytest.param(b"plain text, not gzip\n", id="not-gzip"),
        pytest.param(_gz(b"payload\n")[:-8] + b"\x00" * 8, id="bad-crc"),
        pytest.param(_gz(b"payload\n") + b"trailing junk", id="junk-after-member"),
    ],
)
def test_bad_gzip_data_is_corrupt(stream: bytes) -> None:
    error = _rejected(_body(stream, 5))

    assert error.code == GZIP_CORRUPT
    assert error.message == "the gzip stream is corrupt"
    assert error.__cause__ is None


def test_output_is_pulled_in_slices_of_at_most_256_kib_whatever_the_compression() -> None:
    data = bytes(1024 * 1024)  # a 1 MiB run of zeros compresses to about 1 KiB
    pieces = list(gunzip([_gz(data)], max_ratio=BIG, max_bytes=BIG))

    assert b"".join(pieces) == data
    assert max(len(piece) for piece in pieces) <= 256 * 1024
    assert len(pieces) >= 4


def test_output_of_exactly_max_bytes_is_accepted_and_one_byte_more_is_a_bomb() -> None:
    data = b"x" * 5000

    assert _gunzip([_gz(data)], max_bytes=5000) == data
    error = _rejected([_gz(data)], max_bytes=4999)
    assert error.code == DECOMPRESSION_BOMB
    assert error.message == f"decompressed output passed the limit ({BIG}x, 4999 bytes)"


def test_a_highly_compressed_stream_past_the_ratio_floor_is_a_bomb() -> None:
    error = _rejected([_gz(bytes(1_000_000))], max_ratio=100, ratio_floor=10_000)

    assert error.code == DECOMPRESSION_BOMB


def test_small_outputs_under_the_ratio_floor_are_not_judged_by_ratio() -> None:
    data = bytes(1_000_000)  # ~1000x: a bomb's ratio, but under the 16 MiB default floor

    assert _gunzip([_gz(data)], max_ratio=2) == data


def test_the_ratio_floor_is_exclusive() -> None:
    # 1000 bytes from a few dozen is well over 1x; judged only once output passes the floor.
    assert _gunzip([_gz(b"a" * 1000)], max_ratio=1, ratio_floor=1000) == b"a" * 1000
    assert _rejected([_gz(b"a" * 1001)], max_ratio=1, ratio_floor=1000).code == DECOMPRESSION_BOMB


def test_output_of_exactly_max_ratio_times_the_input_is_accepted() -> None:
    # A payload whose gzip size divides its length, for an exact ratio.
    size = next(n for n in range(1000, 5000) if n % len(_gz(b"a" * n)) == 0)
    compressed = _gz(b"a" * size)
    ratio = size // len(compressed)

    assert _gunzip([compressed], max_ratio=ratio, ratio_floor=0) == b"a" * size
    assert _rejected([compressed], max_ratio=ratio - 1, ratio_floor=0).code == DECOMPRESSION_BOMB


def test_the_ratio_is_judged_against_all_the_input_read_so_far_not_the_last_chunk() -> None:
    # Incompressible data: about 1x all along, far from 2x, read in chunks of 1000 bytes.
    data = random.Random(7).randbytes(20_000)

    assert _gunzip(_body(_gz(data), 1000), max_ratio=2, ratio_floor=0) == data


def test_a_bomb_is_stopped_before_its_whole_output_is_produced() -> None:
    stream = gunzip([_gz(bytes(4 * 1024 * 1024))], max_ratio=BIG, max_bytes=300 * 1024)

    assert len(next(stream)) <= 256 * 1024
    with pytest.raises(FileRejected) as caught:
        next(stream)
    assert caught.value.code == DECOMPRESSION_BOMB


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=3000), size=st.integers(min_value=1, max_value=400))
def test_gzip_round_trips_whatever_the_chunk_size(data: bytes, size: int) -> None:
    assert _gunzip(_body(_gz(data), size)) == data


def test_gunzip_then_split_lines_reads_a_gzip_file_as_its_plain_lines() -> None:
    plain = b'{"id": "a"}\r\n{"id": "b"}\n\n{"id": "c"}'
    decoded = gunzip(_body(_gz(plain), 4), max_ratio=BIG, max_bytes=BIG)

    assert _lines(decoded) == _lines(_body(plain, 3)) == _reference_lines(plain, BIG)


# --- BatchLedger ---------------------------------------------------------------------------------


class _Objects:
    def __init__(self) -> None:
        self.puts: list[tuple[str, str, bytes, str]] = []
        self.deleted: list[tuple[str, str, str | None]] = []

    def read(self, bucket: str, key: str, *, version_id: str | None, start: int = 0) -> Iterator[bytes]:
        raise AssertionError("the ledger never reads objects")

    def put(self, bucket: str, key: str, body: bytes, *, content_type: str) -> None:
        self.puts.append((bucket, key, body, content_type))

    def delete(self, bucket: str, key: str, *, version_id: str | None) -> None:
        self.deleted.append((bucket, key, version_id))


class _Batches:
    """The batch table in memory; `get` can be made to answer a newer copy than was passed."""

    def __init__(self, *batches: Batch) -> None:
        self.rows = {batch.id: batch for batch in batches}
        self.published: list[str] = []

    def start(self, batch: Batch) -> Batch:
        return self.rows.setdefault(batch.id, batch)

    def get(self, batch_id: str) -> Batch | None:
        return self.rows.get(batch_id)

    def checkpoint(self, batch: Batch, *, previous_line: int) -> None:
        self.rows[batch.id] = batch

    def record_outcomes(self, batch_id: str, outcomes: Sequence[tuple[str, JobStatus]]) -> int:
        batch = self.rows[batch_id]
        succeeded = sum(status is JobStatus.SUCCEEDED for _, status in outcomes)
        self.rows[batch_id] = batch.model_copy(
            update={
                "succeeded": batch.succeeded + succeeded,
                "failed": batch.failed + len(outcomes) - succeeded,
            }
        )
        return len(outcomes)

    def claim_completion(self, batch_id: str) -> bool:
        batch = self.rows[batch_id]
        self.rows[batch_id] = batch.model_copy(update={"status": BatchStatus.COMPLETED})
        return batch.status is BatchStatus.READ

    def mark_event_published(self, batch_id: str, *, now: datetime) -> None:
        self.published.append(batch_id)


class _Events:
    def __init__(self) -> None:
        self.published: list[Event[Any]] = []

    def publish(self, event: Event[Any]) -> None:
        self.published.append(event)

    def publish_all(self, events: Sequence[Event[Any]]) -> list[bool]:
        self.published.extend(events)
        return [True] * len(events)


def _batch(batch_id: str = "b1", **fields: Any) -> Batch:
    values: dict[str, Any] = {
        "id": batch_id,
        "bucket": "uploads",
        "key": "incoming/intent/file.jsonl",
        "version_id": "v1",
        "version": "v1",
        "tenant": "acme",
        "route": "intent",
        "updated_at": datetime(2024, 1, 2, tzinfo=UTC),
    }
    return Batch(**(values | fields))


def _job(line: int, batch_id: str = "b1", **fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": f"job-{line}",
        "tenant": "acme",
        "route": "intent",
        "status": JobStatus.SUCCEEDED,
        "batch_id": batch_id,
        "record_id": f"r-{line}",
        "line": line,
        "output": {"label": "greet"},
    }
    return Job(**(values | fields))


def _ledger(batches: _Batches) -> tuple[BatchLedger, _Objects, _Events]:
    objects, events = _Objects(), _Events()
    ledger = BatchLedger(
        batches=batches, objects=objects, events=events, clock=lambda: datetime(2024, 1, 3, tzinfo=UTC)
    )
    return ledger, objects, events


def test_a_result_line_names_the_record_its_line_its_job_and_the_output() -> None:
    assert _result_line(_job(3)) == {
        "id": "r-3",
        "line": 3,
        "job_id": "job-3",
        "status": JobStatus.SUCCEEDED,
        "output": {"label": "greet"},
    }


def test_a_blocked_result_line_carries_its_error_and_json_ready_guardrails_instead_of_output() -> None:
    guardrails = GuardrailReport(checked=(CheckName.SCHEMA, CheckName.PII), flagged=(CheckName.PII,))
    job = _job(
        4,
        status=JobStatus.FAILED,
        output=None,
        error=ErrorDetail(code="OUTPUT_BLOCKED", message="blocked"),
        guardrails=guardrails,
    )

    assert _result_line(job) == {
        "id": "r-4",
        "line": 4,
        "job_id": "job-4",
        "status": JobStatus.FAILED,
        "error": {"code": "OUTPUT_BLOCKED", "message": "blocked"},
        "guardrails": {"checked": ["schema", "pii"], "flagged": ["pii"], "redacted": {}, "in_review": False},
    }


def test_recorded_jobs_go_to_one_compact_ndjson_part_under_the_results_prefix() -> None:
    batches = _Batches(_batch(received=5))
    ledger, objects, _ = _ledger(batches)

    ledger.record([_job(1), _job(2, batch_recorded=True), _job(3, status=JobStatus.FAILED, output=None)])

    parts = [put for put in objects.puts if put[1].startswith("results/b1/part-")]
    assert len(parts) == 1
    bucket, key, body, content_type = parts[0]
    assert (bucket, content_type) == ("uploads", "application/x-ndjson")
    assert key.endswith(".jsonl")
    assert body == (
        b'{"id":"r-1","line":1,"job_id":"job-1","status":"succeeded","output":{"label":"greet"}}\n'
        b'{"id":"r-3","line":3,"job_id":"job-3","status":"failed","output":null}\n'
    )
    assert batches.rows["b1"].succeeded == 1
    assert batches.rows["b1"].failed == 1


def test_jobs_of_an_unknown_batch_do_not_stop_the_jobs_of_the_next_batch() -> None:
    batches = _Batches(_batch("b1", received=5))
    ledger, objects, _ = _ledger(batches)

    ledger.record([_job(1, batch_id="ghost"), _job(2, batch_id="b1")])

    assert len([key for _, key, _, _ in objects.puts if key.startswith("results/b1/part-")]) == 1
    assert all("ghost" not in key for _, key, _, _ in objects.puts)
    assert batches.rows["b1"].succeeded == 1


def test_the_report_is_the_batch_report_as_indented_json() -> None:
    batch = _batch(received=2, succeeded=1)
    ledger, objects, _ = _ledger(_Batches(batch))

    ledger.publish_report(batch)

    assert objects.puts == [
        ("uploads", "reports/b1.json", json.dumps(batch.report(), indent=2).encode(), "application/json")
    ]


def test_a_report_from_older_counts_is_followed_by_the_final_one_once_the_batch_completed() -> None:
    stale = _batch(received=2, succeeded=1)
    final = _batch(status=BatchStatus.COMPLETED, received=2, succeeded=2)
    ledger, objects, _ = _ledger(_Batches(final))

    ledger.publish_report(stale)

    assert [json.loads(body)["succeeded"] for _, _, body, _ in objects.puts] == [1, 2]


def test_a_report_is_written_once_while_the_stored_batch_is_not_completed() -> None:
    stored = _batch(received=2, succeeded=1)
    ledger, objects, _ = _ledger(_Batches(stored))

    ledger.publish_report(stored)

    assert len(objects.puts) == 1


def test_the_completed_report_is_written_once_without_looking_again() -> None:
    final = _batch(status=BatchStatus.COMPLETED, received=2, succeeded=2)
    ledger, objects, _ = _ledger(_Batches(final))

    ledger.publish_report(final)

    assert len(objects.puts) == 1


def test_settling_a_finished_batch_deletes_the_upload_and_announces_it_with_its_route_and_id() -> None:
    batches = _Batches(
        _batch(status=BatchStatus.READ, received=3, queued=2, rejected=1, succeeded=1, failed=1)
    )
    ledger, objects, events = _ledger(batches)

    ledger.settle("b1")

    assert objects.deleted == [("uploads", "incoming/intent/file.jsonl", "v1")]
    [event] = events.published
    assert event.metadata.correlation_id == "b1"
    assert event.detail == BatchCompleted(
        batch_id="b1",
        tenant="acme",
        route="intent",
        status="completed",
        error_code=None,
        received=3,
        rejected=1,
        queued=2,
        succeeded=1,
        failed=1,
        bucket="uploads",
        report_key="reports/b1.json",
        results_prefix="results/b1/",
    )
    assert batches.published == ["b1"]
