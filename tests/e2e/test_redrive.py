"""`make redrive` on the running local platform: the ingest queue's dead letters go back and are handled."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from sluice_local.outputs import local_session
from tests.e2e.conftest import ROOT, RunningPlatform


def _redrive(queue: str, outputs_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our module
        [sys.executable, "-m", "sluice_local.redrive", "--queue", queue, "--outputs", str(outputs_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_redrive_puts_dead_letters_back_where_the_function_handles_them(
    running_platform: RunningPlatform, tmp_path: Path
) -> None:
    # Given a message in the ingest dead-letter queue (S3's test event: ingest acknowledges it)
    outputs = running_platform.outputs
    sqs = local_session(outputs).client("sqs", endpoint_url=outputs["AwsEndpointUrl"])
    dlq = outputs["IngestDeadLetterQueueUrl"]
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "RequestId": uuid.uuid4().hex})
    sqs.send_message(QueueUrl=dlq, MessageBody=body)
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))

    # When an operator runs the redrive command
    completed = _redrive("ingest", tmp_path / "outputs.json")

    # Then it says what it moved, and the message has left the dead-letter queue (whatever else
    # the platform's other tests may have sent there meanwhile)
    assert completed.returncode == 0, completed.stderr
    assert "done: 1 messages moved; audit event QueueRedriven by local:" in completed.stdout
    left = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    assert body not in [message["Body"] for message in left]


def test_redrive_names_the_queues_it_knows_when_given_another(
    running_platform: RunningPlatform, tmp_path: Path
) -> None:
    (tmp_path / "outputs.json").write_text(json.dumps(running_platform.outputs))

    completed = _redrive("nope", tmp_path / "outputs.json")

    assert completed.returncode != 0
    assert (
        "no queue 'nope' in the outputs; routes with a DLQ: ['chat', 'embed', 'intent'] (or 'ingest')"
        in completed.stderr
    )
