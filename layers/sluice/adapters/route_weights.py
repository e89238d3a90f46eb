"""Variant weights in the live route table parameter (the JSON the functions re-read).

Read-modify-write of one route's `variants[].weight`, leaving the rest of the document as it
was; the functions validate the whole table again when they read it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class ParameterRouteWeights:
    def __init__(self, client: Any, parameter_name: str) -> None:
        self._client = client
        self._name = parameter_name

    def _table(self) -> dict[str, Any]:
        value = self._client.get_parameter(Name=self._name)["Parameter"]["Value"]
        table: dict[str, Any] = json.loads(value)
        return table

    def weights(self, route: str) -> dict[str, float]:
        target = self._table()["routes"][route]
        variants = target.get("variants") or [{"name": target["variant"], "weight": 1.0}]
        return {variant["name"]: float(variant["weight"]) for variant in variants}

    def set_weights(self, route: str, weights: Mapping[str, float]) -> None:
        table = self._table()
        target = table["routes"][route]
        if not target.get("variants"):
            return  # one variant has all the traffic whatever its weight
        for variant in target["variants"]:
            variant["weight"] = float(weights.get(variant["name"], variant["weight"]))
        self._client.put_parameter(
            Name=self._name,
            Value=json.dumps(table, separators=(",", ":")),
            Type="String",
            Overwrite=True,
            # Never a downgrade: the stack made it an advanced parameter (8 KB).
            Tier="Intelligent-Tiering",
        )
