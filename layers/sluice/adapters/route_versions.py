"""Variant version labels in the live route table parameter (read-modify-write of one route's
`variants[].model_version`, the rest of the document as it was; see route_weights.py)."""

from __future__ import annotations

import json
from typing import Any


class ParameterRouteVersions:
    def __init__(self, client: Any, parameter_name: str) -> None:
        self._client = client
        self._name = parameter_name

    def _table(self) -> dict[str, Any]:
        table: dict[str, Any] = json.loads(self._client.get_parameter(Name=self._name)["Parameter"]["Value"])
        return table

    def model_version(self, route: str, variant: str) -> str | None:
        target = self._table()["routes"].get(route)
        if target is None:
            return None
        for candidate in target.get("variants") or []:
            if candidate["name"] == variant:
                return str(candidate.get("model_version") or "") or None
        return None

    def set_model_version(self, route: str, variant: str, version: str) -> None:
        table = self._table()
        target = table["routes"][route]
        for candidate in target.get("variants") or []:
            if candidate["name"] == variant:
                candidate["model_version"] = version
        self._client.put_parameter(
            Name=self._name,
            Value=json.dumps(table, separators=(",", ":")),
            Type="String",
            Overwrite=True,
            Tier="Intelligent-Tiering",
        )
