"""The PII key rules at their edges: 16 bytes is enough, 15 is not; the key file's folders are made.

Survivors of `make mutation` (issue 19): the length checks moved by one, and the key file's
parent made without its own parents, passed every test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice import pii


def test_a_static_key_of_sixteen_bytes_is_enough_and_fifteen_is_not() -> None:
    # Given keys at the minimum length and one byte under it
    # When each is used, Then the first is accepted as it is and the second is refused
    assert pii.StaticKey(b"k" * 16).key() == b"k" * 16
    with pytest.raises(ValueError, match="16 bytes"):
        pii.StaticKey(b"k" * 15)


def test_a_key_file_of_sixteen_bytes_is_enough_and_fifteen_is_not(tmp_path: Path) -> None:
    # Given key files someone wrote by hand, at the minimum length and one byte under it
    enough, short = tmp_path / "enough.key", tmp_path / "short.key"
    enough.write_bytes(b"k" * 16)
    short.write_bytes(b"k" * 15)

    # When they are read, Then the first is used as it is and the second is refused
    assert pii.LocalKeyFile(enough).key() == b"k" * 16
    with pytest.raises(ValueError, match="fewer than 16 bytes"):
        pii.LocalKeyFile(short).key()


def test_a_new_key_file_is_made_with_every_missing_folder(tmp_path: Path) -> None:
    # Given a key file path several folders below any that exist
    path = tmp_path / "state" / "pii" / "keys" / "pii.key"

    # When its key is first asked for
    key = pii.LocalKeyFile(path).key()

    # Then the folders and a private 32-byte key file are made
    assert path.read_bytes() == key
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_hashed_value_is_the_same_across_releases() -> None:
    # Given a known key, tenant and value (hashes and pseudonyms are stored: the vault, the
    # tenants' own records), When it is hashed, Then it is exactly what earlier releases wrote
    policy = pii.RedactionPolicy(default=pii.Operator.HASH)
    key = pii.StaticKey(b"k" * 32)

    result = pii.redact("mail john@example.com", policy, tenant="acme", key_provider=key)

    assert result.text == "mail <EMAIL_ADDRESS#ae62756c27c8d180>"


def test_a_value_hashed_without_a_tenant_is_keyed_as_the_default_tenant_as_earlier_releases_did() -> None:
    # `sluice.pii.redact` called without a tenant (a caller of the library, not the platform's
    # request path, which always passes one): the hash is the "default" tenant's, as stored before
    policy = pii.RedactionPolicy(default=pii.Operator.HASH)
    key = pii.StaticKey(b"k" * 32)

    result = pii.redact("mail john@example.com", policy, key_provider=key)

    assert result.text == "mail <EMAIL_ADDRESS#f6289fc6542e1870>"
    assert result.text == pii.redact("mail john@example.com", policy, tenant="default", key_provider=key).text


def test_a_pseudonym_is_the_same_across_releases_and_its_own_per_value() -> None:
    # Given a known key and tenant (pseudonyms are stored: the vault maps them back, tenants keep
    # them in their own records), When values are pseudonymized
    policy = pii.RedactionPolicy(default=pii.Operator.PSEUDONYMIZE)
    key, vault = pii.StaticKey(b"k" * 32), pii.InMemoryVault()

    result = pii.redact(
        "mail john@example.com, or call John Smith; jane@example.com",
        policy,
        tenant="acme",
        key_provider=key,
        vault=vault,
    )

    # Then each is exactly what earlier releases wrote, and two values never share a token
    assert result.text == (
        "mail <EMAIL_ADDRESS_fcdce30125fc>, or call <PERSON_a55d5bea15d2>; <EMAIL_ADDRESS_b96356b72123>"
    )
    # and a pseudonym is not the value's hash: the two are derived apart
    hashed = pii.redact(
        "mail john@example.com",
        pii.RedactionPolicy(default=pii.Operator.HASH),
        tenant="acme",
        key_provider=key,
    )
    assert "fcdce30125fc" not in hashed.text
