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

from tests.functional.conftest import Platform
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
