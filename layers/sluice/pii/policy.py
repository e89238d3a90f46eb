"""What `redact` does with each entity type: the route's redaction policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Operator(StrEnum):
    MASK = "mask"  # "<EMAIL_ADDRESS>"
    HASH = "hash"  # "<EMAIL_ADDRESS#3f9a...>": keyed HMAC-SHA256, same value -> same digest
    PSEUDONYMIZE = "pseudonymize"  # "<PERSON_7f3a9c2b1d4e>": stable per tenant, reversible via the vault
    DROP = "drop"  # removed
    ALLOW = "allow"  # left as is: the route explicitly opted out for this type


class RedactionPolicy(BaseModel):
    """Operator per entity type (anything unlisted gets `default`), and how sure detection must be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Operator = Operator.MASK
    operators: Mapping[str, Operator] = Field(default_factory=dict)
    min_score: float = Field(0.5, ge=0.0, le=1.0)

    def operator_for(self, entity_type: str) -> Operator:
        return self.operators.get(entity_type, self.default)

    @classmethod
    def for_route(cls, *, allow: Iterable[str] = (), **settings: object) -> RedactionPolicy:
        """The policy for a route that may receive `allow`-listed entity types unredacted."""
        operators = dict(settings.pop("operators", {}) or {})  # type: ignore[call-overload]
        operators.update(dict.fromkeys(allow, Operator.ALLOW))
        return cls.model_validate({**settings, "operators": operators})
