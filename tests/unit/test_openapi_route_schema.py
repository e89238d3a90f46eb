"""The request body's schema in the OpenAPI document follows the live route table
(`sluice.serving.api._with_routes`), whatever that table holds."""

from __future__ import annotations

import copy

from sluice.routing.table import RouteTable, RouteTarget
from sluice.serving.api import _with_routes

POWERTOOLS_REQUEST = {"title": "InferenceRequest", "type": "object", "description": "A request."}


def _document() -> dict[str, object]:
    return {"components": {"schemas": {"InferenceRequest": copy.deepcopy(POWERTOOLS_REQUEST)}}}


def test_an_empty_route_table_leaves_the_request_schema_as_pydantic_wrote_it() -> None:
    # A union of no branches (`oneOf: []`) is not a JSON Schema: with no route there is nothing
    # to list, and the document keeps the model's own schema
    document = _with_routes(_document(), RouteTable(routes={}))

    assert document["components"]["schemas"] == {"InferenceRequest": POWERTOOLS_REQUEST}  # type: ignore[index]


def test_a_document_without_the_request_schema_is_left_as_it_is() -> None:
    route = RouteTarget(name="intent", queue_url="q", endpoint_name="e", variant="AllTraffic")
    document: dict[str, object] = {"components": {"schemas": {}}}

    assert _with_routes(document, RouteTable(routes={"intent": route})) == {"components": {"schemas": {}}}
