"""`GET /v1/openapi.json` is a valid OpenAPI 3.1 document that tells a client everything it can get."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.functional.conftest import Platform
from tests.sample_events import api_event


@pytest.fixture
def document(platform: Platform) -> dict[str, Any]:
    response = platform.app.resolve(api_event("get_openapi"), None)
    assert response["statusCode"] == 200
    return dict(json.loads(response["body"]))


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    # Every $ref resolves (it did not: #/$defs/ErrorDetail), every schema is well formed
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_status_the_api_sends_is_declared_with_the_error_envelope(document: dict[str, Any]) -> None:
    post = document["paths"]["/v1/inferences"]["post"]["responses"]
    get = document["paths"]["/v1/inferences/{job_id}"]["get"]["responses"]

    assert set(post) == {
        "200",
        "202",
        "400",
        "403",
        "409",
        "413",
        "415",
        "422",
        "429",
        "500",
        "502",
        "503",
        "504",
    }
    assert set(get) == {"200", "400", "403", "404", "429", "500", "503"}
    for responses in (post, get):
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, status
    assert get["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobView"}


def test_a_queued_job_links_to_its_status_and_refusals_say_when_to_retry(document: dict[str, Any]) -> None:
    paths = document["paths"]
    post = paths["/v1/inferences"]["post"]["responses"]
    job_status = paths["/v1/inferences/{job_id}"]["get"]["operationId"]
    feedback = paths["/v1/inferences/{job_id}/feedback"]["post"]["operationId"]
    by_id = {"job_id": "$response.body#/id"}

    # A queued job says where its status is, and both kinds of answer lead to their feedback
    assert post["202"]["links"] == {
        "GetInference": {"operationId": job_status, "parameters": by_id},
        "LeaveFeedback": {"operationId": feedback, "parameters": by_id},
    }
    assert post["200"]["links"] == {"LeaveFeedback": {"operationId": feedback, "parameters": by_id}}
    assert set(post["202"]["headers"]) == {"Location"}
    assert post["202"]["headers"]["Location"]["schema"] == {"type": "string"}

    # and every refusal that asks the client to come back says when, in whole seconds
    told_to_wait = {
        (path, method, status): response["headers"]
        for path, operations in paths.items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status in ("429", "503", "504")
    }
    assert {status for _, _, status in told_to_wait} == {"429", "503", "504"}
    for where, headers in told_to_wait.items():
        assert set(headers) == {"Retry-After"}, where
        assert headers["Retry-After"]["schema"] == {"type": "integer"}, where


def test_the_api_key_is_a_declared_security_scheme(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    for path, method in (("/v1/inferences", "post"), ("/v1/inferences/{job_id}", "get")):
        assert document["paths"][path][method]["security"] == [{"apiKey": []}]
    assert "security" not in document["paths"]["/v1/health"]["get"]


def test_answers_and_jobs_declare_what_the_output_guardrails_found(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model in ("SyncInferenceResponse", "JobView"):
        assert "guardrails" in schemas[model]["properties"], model
    report = schemas["GuardrailReport"]["properties"]
    assert set(report) == {"checked", "flagged", "redacted", "in_review"}
    assert set(schemas["CheckName"]["enum"]) == {"schema", "pii", "moderation", "confidence"}
    # A blocked answer is a 502 in the error envelope, and the sync answer can be revealed
    post = document["paths"]["/v1/inferences"]["post"]
    assert post["responses"]["502"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert "reveal" in {parameter["name"] for parameter in post["parameters"]}
