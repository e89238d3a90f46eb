"""The `audit` function: its environment and its dependencies (the audit trail's writer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from sluice.adapters.clients import client
from sluice.runtime import shared
from sluice.runtime.observability_settings import AuditSettings, audit_trail

if TYPE_CHECKING:
    from sluice.observability.audit import AuditTrail


class Settings(AuditSettings):
    # Required here: filing events is all this function does.
    audit_table: str = Field(alias="AUDIT_TABLE_NAME", min_length=3)


def build(settings: Settings, *, clients: shared.ClientFactory = client) -> AuditTrail:
    trail = audit_trail(settings, clients)
    assert trail is not None  # audit_table is required
    return trail
