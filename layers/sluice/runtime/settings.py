"""The base of every function's settings model: validated from the environment, rendered into it.

The same model is read by the handler at init (`from_environment`) and written by the CDK stack
and the local platform (`environment`), so a function's environment exists in one place only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class FunctionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        return cls.model_validate(dict(os.environ if environ is None else environ))

    def environment(self) -> dict[str, str]:
        """Environment variables by alias; structured values as JSON, unset optional values left out."""
        dumped = self.model_dump(mode="json", by_alias=True, round_trip=True, exclude_none=True)
        # Structured values leave out what equals its default (the reader fills it in again):
        # Lambda holds 4 KB of variables in all, and the route table and cost policy grow with
        # every route; their defaults were most of it.
        lean = self.model_dump(
            mode="json", by_alias=True, round_trip=True, exclude_none=True, exclude_defaults=True
        )
        return {
            name: _as_variable(lean.get(name, value) if isinstance(value, dict | list) else value)
            for name, value in dumped.items()
        }

    @classmethod
    def variables(cls) -> frozenset[str]:
        """Every variable this function reads: what an infra test compares the template with."""
        return frozenset(field.alias or name for name, field in cls.model_fields.items())


def _as_variable(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))
