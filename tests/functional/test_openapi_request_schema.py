"""The OpenAPI document's request schema says what the API does: what it accepts validates, what it
refuses does not, and Powertools' validation schemas are gone (mutants of these rewritings survived
`make mutation`, issue 19: a branch without its type, a validation schema left behind).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sluice.config import DeploymentConfig, EndpointConfig, RouteConfig
from tests.functional.conftest import Platform, start_platform
from tests.sample_events import api_event


@pytest.fixture
def document(platform: Platform) -> dict[str, Any]:
    response = platform.app.resolve(api_event("get_openapi"), None)
    assert response["statusCode"] == 200
    return dict(json.loads(response["body"]))


def _request_validator(document: dict[str, Any]) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "doc", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = {"$ref": "doc#/components/schemas/InferenceRequest"}
    return Draft202012Validator(schema, registry=registry)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


@pytest.mark.parametrize(
    "body",
    [
        {"route": "intent", "input": {"text": "Why was I charged twice?"}},
        {"route": "intent", "input": {"text": "Why was I charged twice?"}, "mode": "async"},
    ],
)
def test_a_request_the_api_accepts_validates_against_the_document(
    platform: Platform, document: dict[str, Any], body: dict[str, Any]
) -> None:
    # Given a body the API accepts
    status, _, _ = platform.call(api_event(f"post_inference_{body.get('mode', 'sync')}", body=body))
    assert status in (200, 202)

    # When it is checked against the document's request schema, Then it validates
    _request_validator(document).validate(body)


@pytest.mark.parametrize(
    "body",
    [
        ["intent", "Why was I charged twice?"],
        {"route": "intent", "input": {"text": "hi"}, "tenant": "someone-else"},
        {"route": "intent", "input": {}},
        {"route": "no-such-route", "input": {"text": "hi"}},
        {"route": "intent", "input": {"text": "   "}},
        {"route": "intent", "input": {"text": 5}},
        {"route": "intent", "input": {"text": "hi"}, "mode": "later"},
        {"input": {"text": "hi"}},
        {"route": "intent", "input": {"text": "hi"}, "variant": "no-such-variant"},
    ],
    ids=[
        "not-an-object",
        "unknown-field",
        "required-input-missing",
        "unknown-route",
        "blank-input",
        "input-not-a-string",
        "unknown-mode",
        "no-route",
        "unknown-variant",
    ],
)
def test_a_request_the_api_refuses_does_not_validate_against_the_document(
    platform: Platform, document: dict[str, Any], body: Any
) -> None:
    # Given a body the API refuses
    status, _, _ = platform.call(api_event("post_inference_sync", body=body))
    assert 400 <= status < 500

    # When it is checked against the document's request schema, Then the document refuses it too
    assert not _request_validator(document).is_valid(body)


def test_powertools_validation_schemas_are_not_in_the_document(document: dict[str, Any]) -> None:
    # Given the document's component schemas, and the ones its operations refer to
    schemas = set(document["components"]["schemas"])
    referenced = {ref.rsplit("/", 1)[-1] for ref in _refs(document)}

    # Then Powertools' 422 family, which this API never sends (it answers 400), is gone, and
    # every schema an operation refers to is there
    assert not schemas & {"HTTPValidationError", "ValidationError", "ResponseValidationError"}
    assert referenced <= schemas


# The branches depend on the live route table, so the document is checked over other tables too.
# One route: a schema branch that lost its `type` or its `required` no longer meets a second
# branch that `oneOf` would also match, so only here does it let a non-object or a routeless
# body through. An async-only route: its branch requires `mode` and allows only `async`.
ONE_ROUTE = DeploymentConfig(routes=(RouteConfig(name="intent"),))
WITH_ASYNC_ONLY_ROUTE = DeploymentConfig(
    routes=(
        RouteConfig(name="intent"),
        RouteConfig(
            name="chat",
            endpoint=EndpointConfig(
                mode="async", wire_format="hf-tgi", accepts_batches=False, variant_name="llm"
            ),
            required_text_fields=("inputs",),
        ),
    )
)
CHAT_PROMPT = {"inputs": "Summarise my last three card payments"}


@pytest.mark.parametrize(
    ("config", "body", "accepted"),
    [
        (ONE_ROUTE, {"route": "intent", "input": {"text": "Why was I charged twice?"}}, True),
        (ONE_ROUTE, {"route": "intent", "input": {"text": "Why?"}, "variant": "AllTraffic"}, True),
        (ONE_ROUTE, ["intent", "Why was I charged twice?"], False),
        (ONE_ROUTE, {"input": {"text": "Why was I charged twice?"}}, False),
        (ONE_ROUTE, {"route": "intent"}, False),
        (ONE_ROUTE, {"route": "intent", "input": "Why was I charged twice?"}, False),
        (ONE_ROUTE, {"route": "intent", "input": {"text": "hi"}, "tenant": "someone-else"}, False),
        (WITH_ASYNC_ONLY_ROUTE, {"route": "chat", "input": CHAT_PROMPT, "mode": "async"}, True),
        (WITH_ASYNC_ONLY_ROUTE, {"route": "chat", "input": CHAT_PROMPT}, False),
        (WITH_ASYNC_ONLY_ROUTE, {"route": "chat", "input": CHAT_PROMPT, "mode": "sync"}, False),
        (WITH_ASYNC_ONLY_ROUTE, {"route": "chat", "input": {"text": "hi"}, "mode": "async"}, False),
        (WITH_ASYNC_ONLY_ROUTE, {"route": "intent", "input": {"text": "hi"}, "mode": "sync"}, True),
    ],
    ids=[
        "one-route-accepted",
        "one-route-with-its-variant",
        "one-route-not-an-object",
        "one-route-no-route",
        "one-route-no-input",
        "one-route-input-not-an-object",
        "one-route-unknown-field",
        "async-only-route-queued",
        "async-only-route-without-mode",
        "async-only-route-asked-to-answer-now",
        "async-only-route-without-its-field",
        "sync-route-beside-it-answers-now",
    ],
)
def test_the_document_over_another_route_table_accepts_what_the_api_accepts(
    config: DeploymentConfig, body: Any, accepted: bool
) -> None:
    with start_platform(config) as platform:
        # Given what the API answers to the body
        mode = body.get("mode", "sync") if isinstance(body, dict) else "sync"
        status, _, _ = platform.call(api_event(f"post_inference_{mode}", body=body))
        assert (status in (200, 202)) is accepted, status
        assert accepted or 400 <= status < 500

        # Then the document, generated over the same table, agrees
        document = json.loads(platform.app.resolve(api_event("get_openapi"), None)["body"])
        assert _request_validator(document).is_valid(body) is accepted


def test_each_routes_request_is_a_component_whose_input_is_a_component_too(document: dict[str, Any]) -> None:
    # Generated clients get one model per route and one for its input (the names are theirs)
    schemas = document["components"]["schemas"]
    for route in ("Intent", "Support"):
        branch = schemas[f"InferenceRequest{route}"]
        assert branch["properties"]["input"] == {"$ref": f"#/components/schemas/InferenceRequest{route}Input"}
        assert schemas[f"InferenceRequest{route}Input"]["type"] == "object"
    assert schemas["InferenceRequest"]["oneOf"] == [
        {"$ref": "#/components/schemas/InferenceRequestIntent"},
        {"$ref": "#/components/schemas/InferenceRequestSupport"},
    ]


def test_a_hyphenated_routes_components_are_named_in_camel_case() -> None:
    # Generated clients name their models after the components: `card-disputes` gives
    # InferenceRequestCardDisputes, referred to by the union under that same name
    config = DeploymentConfig(routes=(RouteConfig(name="intent"), RouteConfig(name="card-disputes")))
    with start_platform(config) as platform:
        document = json.loads(platform.app.resolve(api_event("get_openapi"), None)["body"])

    schemas = document["components"]["schemas"]
    assert {"InferenceRequestCardDisputes", "InferenceRequestCardDisputesInput"} <= set(schemas)
    assert {"$ref": "#/components/schemas/InferenceRequestCardDisputes"} in schemas["InferenceRequest"][
        "oneOf"
    ]
