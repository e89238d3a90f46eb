"""Where the detector plugs in: import cost, the log formatter and the AWS adapters (with fakes)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sluice import pii
from sluice.adapters.pii_keys import SecretsManagerKeyProvider
from sluice.adapters.pii_vault import DynamoPseudonymVault, PseudonymCollision


def test_import_loads_no_word_list_and_no_pydantic() -> None:
    # Given a fresh interpreter, When importing sluice.pii, Then the heavy parts wait for first use
    probe = (
        "import sys, sluice.pii, sluice.pii.lexicon as lx;"
        "print(lx.lexicon.cache_info().currsize, 'pydantic' in sys.modules)"
    )
    out = subprocess.run(  # noqa: S603 (this interpreter, a fixed probe)
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["0", "False"]


def test_log_formatter_redacts_every_string() -> None:
    from sluice.pii.logging import PiiRedactingFormatter

    formatter = PiiRedactingFormatter(service="test")
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "mail from john@example.com", None, None)
    record.detail = {"who": ["call +44 20 7946 0958"], "count": 3}  # an `extra` key
    line = json.loads(formatter.format(record))
    assert line["message"] == "mail from <EMAIL_ADDRESS>"
    assert line["detail"] == {"who": ["call <PHONE_NUMBER>"], "count": 3}
    assert line["level"] == "INFO"  # structural keys untouched
    assert "timestamp" in line


def test_log_formatter_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.pii import logging as pii_logging

    def broken(*_: Any, **__: Any) -> None:
        raise pii.PiiDetectionTimeout("slow")

    monkeypatch.setattr("sluice.pii.redaction.redact", broken)
    # (a nested key is redacted too: it can be data)
    failed = pii_logging.REDACTION_FAILED
    assert pii_logging.redact_value({"m": "john@example.com"}) == {failed: failed}


class FakeSecrets:
    def __init__(self, secret: dict[str, Any]) -> None:
        self.secret, self.calls = secret, 0

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.calls += 1
        return self.secret


@pytest.mark.parametrize(
    "secret",
    [
        {"SecretBinary": b"k" * 32},
        {"SecretString": "6b" * 32},
        {"SecretString": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="},
    ],
)
def test_secrets_manager_key_is_read_once(secret: dict[str, Any]) -> None:
    client = FakeSecrets(secret)
    provider = SecretsManagerKeyProvider("arn:secret", client)
    assert len(provider.key()) >= 16
    assert provider.key() == provider.key()
    assert client.calls == 1


class FakeDynamo:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.puts = 0

    def put_item(self, *, TableName: str, Item: dict[str, Any], **_: Any) -> None:
        self.puts += 1
        pk = Item["pk"]["S"]
        if pk in self.items and self.items[pk]["value"] != Item["value"]:
            # What botocore raises: a ClientError carrying DynamoDB's error code.
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
        self.items[pk] = Item

    def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        item = self.items.get(Key["pk"]["S"])
        return {"Item": item} if item else {}


def test_dynamo_vault_round_trip_and_permission() -> None:
    client = FakeDynamo()
    vault = DynamoPseudonymVault("pii-vault", client)
    policy = pii.RedactionPolicy(default=pii.Operator.PSEUDONYMIZE)
    key = pii.StaticKey(b"k" * 32)
    text = "My name is John Smith"
    redacted = pii.redact(text, policy, tenant="acme", key_provider=key, vault=vault).text
    pii.redact(text, policy, tenant="acme", key_provider=key, vault=vault)
    assert client.puts == 1  # the second write of the same value is skipped
    assert next(iter(client.items)).startswith("acme#")
    assert pii.reidentify(redacted, tenant="acme", vault=vault, can_reveal=True) == text
    with pytest.raises(pii.RevealNotPermitted):
        vault.reveal("acme", "0" * 12, can_reveal=False)


def test_dynamo_vault_collision_fails_closed() -> None:
    client = FakeDynamo()
    DynamoPseudonymVault("t", client).put("acme", "abc", "PERSON", "John")
    with pytest.raises(PseudonymCollision):
        DynamoPseudonymVault("t", client).put("acme", "abc", "PERSON", "Jane")
