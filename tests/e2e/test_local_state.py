"""The local AWS's state file: what a restart restores, and what a hard kill can lose."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from sluice_local.launch import ROOT, free_port
from sluice_local.moto_state import CALLS_PATH

pytestmark = pytest.mark.e2e


@contextmanager
def moto_server(
    state_file: Path, *, interval_s: float = 0.3
) -> Iterator[tuple[subprocess.Popen[bytes], Any]]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own module
        [
            sys.executable,
            "-m",
            "sluice_local.moto_server",
            "--port",
            str(port),
            "--state-file",
            str(state_file),
            "--snapshot-interval",
            str(interval_s),
        ],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    _poll(lambda: _answers(url + CALLS_PATH), what="moto did not start", process=process)
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local"
    )
    try:
        yield process, lambda service: session.client(service, endpoint_url=url)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _poll(until: Callable[[], bool], *, what: str, timeout_s: float = 60, process: Any = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not until():
        assert process is None or process.poll() is None, f"{what}: exited {process.returncode}"
        assert time.monotonic() < deadline, what
        time.sleep(0.05)  # polling with a deadline


def _fill(client: Callable[[str], Any]) -> str:
    dynamodb, sqs, s3, ssm = client("dynamodb"), client("sqs"), client("s3"), client("ssm")
    dynamodb.create_table(
        TableName="jobs",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="jobs", Item={"id": {"S": "job-1"}, "status": {"S": "queued"}})
    queue_url = str(sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "300"})["QueueUrl"])
    for body in ("one", "two", "three"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    # "one" is received twice (its visibility ended at once the first time) and is now in flight
    first = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1)["Messages"][0]
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    assert sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1)["Messages"][0]["Body"] == "one"
    s3.create_bucket(Bucket="uploads")
    s3.put_object(Bucket="uploads", Key="in/records.jsonl", Body=b'{"text": "hi"}\n')
    ssm.put_parameter(Name="/sluice/routes", Value="v1", Type="String")
    ssm.put_parameter(Name="/sluice/routes", Value="v2", Type="String", Overwrite=True)
    return queue_url


def _assert_restored(client: Callable[[str], Any], queue_url: str) -> None:
    item = client("dynamodb").get_item(TableName="jobs", Key={"id": {"S": "job-1"}})["Item"]
    assert item["status"] == {"S": "queued"}
    sqs = client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"],
        attributes["ApproximateNumberOfMessagesNotVisible"],
    ) == (
        "2",
        "1",
    )  # "one" is still in flight: its visibility timeout survives the restart
    visible = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert sorted(m["Body"] for m in visible) == ["three", "two"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in visible} == {"1"}
    body = client("s3").get_object(Bucket="uploads", Key="in/records.jsonl")["Body"].read()
    assert body == b'{"text": "hi"}\n'
    parameter = client("ssm").get_parameter(Name="/sluice/routes")["Parameter"]
    assert (parameter["Value"], parameter["Version"]) == ("v2", 2)


def test_a_clean_stop_keeps_tables_queues_buckets_and_parameters(tmp_path: Path) -> None:
    state = tmp_path / "moto.pickle"
    with moto_server(state, interval_s=3600) as (process, client):  # no periodic snapshot: the last one
        queue_url = _fill(client)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0

    with moto_server(state) as (_, client):
        _assert_restored(client, queue_url)


def test_a_hard_kill_loses_only_what_came_after_the_last_snapshot(tmp_path: Path) -> None:
    state = tmp_path / "moto.pickle"
    with moto_server(state, interval_s=0.3) as (process, client):
        queue_url = _fill(client)
        # Given a snapshot taken after the calls above (one every 0.3 s while anything changes)
        filled = time.time()
        _poll(lambda: state.exists() and state.stat().st_mtime > filled + 0.05, what="no snapshot")
        # When the server is killed without warning
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    # Then a new server restores everything up to that snapshot
    with moto_server(state) as (_, client):
        _assert_restored(client, queue_url)
