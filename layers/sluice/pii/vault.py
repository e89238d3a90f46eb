"""Pseudonym vault: token -> original value, per tenant. Only `can_reveal` callers read it back."""

from __future__ import annotations

from typing import Protocol

from sluice.pii.errors import RevealNotPermitted


class PseudonymVault(Protocol):
    def put(self, tenant: str, token: str, entity_type: str, value: str) -> None: ...

    def reveal(self, tenant: str, token: str, *, can_reveal: bool) -> str | None: ...


class InMemoryVault:
    """For tests and the local platform; the DynamoDB adapter is `sluice.adapters.pii_vault`."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[str, str]] = {}

    def put(self, tenant: str, token: str, entity_type: str, value: str) -> None:
        self._items[(tenant, token)] = (entity_type, value)

    def reveal(self, tenant: str, token: str, *, can_reveal: bool) -> str | None:
        if not can_reveal:
            raise RevealNotPermitted("this caller may not re-identify pseudonymized values")
        item = self._items.get((tenant, token))
        return None if item is None else item[1]

    def __len__(self) -> int:
        return len(self._items)
