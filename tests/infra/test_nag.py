"""cdk-nag is on for every synth: an unacknowledged finding fails it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs

from infra.nag import enable_nag
from tests.infra.conftest import make_app


def test_the_stack_synthesizes_with_no_unacknowledged_finding(template: object) -> None:
    # The fixture synthesizes with the AwsSolutions plugin; reaching here means it passed.
    assert template is not None


def test_an_insecure_resource_fails_synth(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    stack = Stack(app, "Insecure")
    sqs.Queue(stack, "PlainQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)
    enable_nag(app)
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS2"):
        app.synth()
