"""S3 batch ingestion on the running local platform: what `make upload` does, end to end."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sluice.uploads.model import batch_id_for
from sluice_local.upload import LocalUploads
from tests.e2e.conftest import RunningPlatform

pytestmark = pytest.mark.e2e
EMAIL = "maria.garcia@example.com"


def test_an_uploaded_gzip_file_is_served_reported_and_completed(
    running_platform: RunningPlatform, tmp_path: Path
) -> None:
    # Given a gzip'd JSONL file of 20 records, one with personal data, and one broken line
    lines = [
        json.dumps({"id": f"r-{n}", "input": {"text": "I still have not received my new card"}})
        for n in range(20)
    ]
    lines[7] = json.dumps({"id": "r-7", "input": {"text": f"card not here, write to {EMAIL}"}})
    lines.insert(10, '{"id": "cut", "input": {"text": "no closing brace"')
    path = tmp_path / "cards.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))

    # When it is uploaded to the platform's bucket, as `make upload` does
    uploads = LocalUploads.from_outputs(running_platform.outputs)
    source = uploads.upload(path, "intent", show_progress=False)
    event = running_platform.wait_for_batch(batch_id_for(source.bucket, source.key, source.version))

    # Then every record is accounted for, the bad line by number and code
    assert event["status"] == "completed"
    assert (event["received"], event["rejected"], event["succeeded"], event["failed"]) == (21, 1, 20, 0)
    report = json.loads(uploads.s3.get_object(Bucket=source.bucket, Key=event["report_key"])["Body"].read())
    assert report["rejected_lines"] == [{"line": 11, "code": "MALFORMED_JSON"}]
    assert report["source"] == {"bucket": source.bucket, "key": source.key, "version_id": source.version_id}

    # And the results hold one line per served record, with the model's answer and no personal data
    parts = uploads.s3.list_objects_v2(Bucket=source.bucket, Prefix=event["results_prefix"])["Contents"]
    bodies = [
        uploads.s3.get_object(Bucket=source.bucket, Key=p["Key"])["Body"].read().decode() for p in parts
    ]
    results = [json.loads(line) for body in bodies for line in body.splitlines()]
    assert sorted(r["id"] for r in results) == sorted(f"r-{n}" for n in range(20))
    assert all(
        "card_arrival" in [i["label"] for i in r["output"]["intents"]][:3]
        for r in results
        if r["id"] != "r-7"
    )
    assert EMAIL not in json.dumps(report) + "".join(bodies)
