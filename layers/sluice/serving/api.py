"""The REST API: routes, request guards and the single mapping from errors to HTTP.

Built on Powertools' APIGatewayRestResolver with validation on, so the OpenAPI document at
`/v1/openapi.json` is generated from the same pydantic models that validate requests.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice import __version__
from sluice.errors import (
    InvalidRequest,
    MalformedJson,
    PayloadTooLarge,
    SluiceError,
    UnsupportedMediaType,
)
from sluice.lifecycle.feedback import FeedbackReceipt, FeedbackService, FeedbackSubmission
from sluice.observability import logger, metrics
from sluice.observability.audit import AuditEntry, AuditKind, AuditTrail
from sluice.observability.correlation import (
    CORRELATION_HEADER,
    current_correlation_id,
    from_headers,
    set_correlation_id,
)
from sluice.observability.signals import Signals
from sluice.routing.table import RouteTable
from sluice.serving import strict_json
from sluice.serving.idempotency import IdempotentSubmit
from sluice.serving.models import AcceptedJob, ErrorResponse, InferenceRequest, JobView, SyncInferenceResponse
from sluice.serving.service import Caller, InferenceService

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_CALLER_KEY = _IDEMPOTENCY_KEY


class ResourceNotFound(SluiceError):
    """A route this deployment does not serve (as Powertools' own 404 answers)."""

    code = "NOT_FOUND"
    status = HTTPStatus.NOT_FOUND


# Every error status a route can answer, with the error envelope (README's error table). 403 and
# 429 come from API Gateway (key, throttle, quota) in the same envelope.
_COMMON_ERRORS = (
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.TOO_MANY_REQUESTS,
    HTTPStatus.INTERNAL_SERVER_ERROR,
    HTTPStatus.SERVICE_UNAVAILABLE,
)
# Set on an accepted request that crossed a soft limit of its tenant's budget or quotas.
BUDGET_WARNING_HEADER = "Sluice-Budget-Warning"

# 502: the model's answer failed a blocking output check (OUTPUT_*, sluice.guardrails.errors) or
# the model failed (MODEL_ERROR).
_SUBMIT_ERRORS = (
    HTTPStatus.BAD_GATEWAY,
    HTTPStatus.CONFLICT,
    HTTPStatus.TOO_MANY_REQUESTS,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    HTTPStatus.UNPROCESSABLE_ENTITY,
    HTTPStatus.GATEWAY_TIMEOUT,
)
_READ_ERRORS = (HTTPStatus.NOT_FOUND,)
# Feedback: another tenant's or an unknown inference (404), a job not yet succeeded (409).
# 422: a label of another route than the inference's.
_FEEDBACK_ERRORS = (
    HTTPStatus.NOT_FOUND,
    HTTPStatus.CONFLICT,
    HTTPStatus.UNPROCESSABLE_ENTITY,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
)


def _error_responses(*statuses: HTTPStatus) -> dict[int, OpenAPIResponse]:
    return {
        int(status): {"description": status.phrase, "content": {"application/json": {"model": ErrorResponse}}}
        for status in sorted({*_COMMON_ERRORS, *statuses})
    }


# The routes and their methods, for 405 answers with `Allow` (Powertools answers 404 for both).
_METHODS = {
    re.compile(r"^/v1/inferences$"): ("POST",),
    re.compile(r"^/v1/inferences/[^/]+$"): ("GET",),
    re.compile(r"^/v1/inferences/[^/]+/feedback$"): ("POST",),
    re.compile(r"^/v1/(health|openapi\.json)$"): ("GET",),
}
_API_KEY = "apiKey"
# The operations that answer 422 themselves (an Idempotency-Key reused, the model refusing input,
# a feedback label of another route).
_SENDS_422 = {("/v1/inferences", "post"), ("/v1/inferences/{job_id}/feedback", "post")}


class SluiceResolver(APIGatewayRestResolver):
    """Powertools' REST resolver, reading media types as RFC 9110 says: case-insensitively.

    Powertools picks the body parser with a case-sensitive prefix match on Content-Type, so
    `APPLICATION/JSON` would be refused; the media type is lower-cased before it looks.

    The body arrives base64-encoded (the stack declares every media type binary, so that API
    Gateway hands over the client's bytes instead of replacing invalid UTF-8 with U+FFFD): a
    body that is valid UTF-8 becomes text here, and one that is not stays encoded for
    `guard_request` to refuse.
    """

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        headers = dict(event.get("headers") or {})
        for name, value in headers.items():
            if name.lower() == "content-type" and isinstance(value, str):
                media_type, _, parameters = value.partition(";")
                headers[name] = media_type.strip().lower() + (f";{parameters}" if parameters else "")
        # One id for the request (the client's, if well formed): every log line, the job, its
        # queue message and its completion event carry it, and the answer names it.
        request_id = (event.get("requestContext") or {}).get("requestId")
        correlation_id = from_headers(headers, fallback=request_id if isinstance(request_id, str) else None)
        set_correlation_id(correlation_id)
        response = super().resolve({**event, "headers": headers, **_as_text(event)}, context)
        # One line per request: what was asked (the route template, never the body) and the answer.
        logger.info(
            "request answered",
            extra={
                "method": event.get("httpMethod"),
                "resource": event.get("resource"),
                "status": response.get("statusCode"),
            },
        )
        # A REST API (v1 proxy) answer carries its headers as multiValueHeaders: Powertools'
        # serializer for these events writes no other kind (MultiValueHeadersSerializer).
        response["multiValueHeaders"] = {
            **(response.get("multiValueHeaders") or {}),
            CORRELATION_HEADER: [correlation_id],
        }
        return response


def _as_text(event: Mapping[str, Any]) -> dict[str, Any]:
    """The body as text when it is base64 of valid UTF-8; nothing to change otherwise."""
    body = event.get("body")
    if not event.get("isBase64Encoded") or not isinstance(body, str):
        return {}
    try:
        return {"body": base64.b64decode(body, validate=True).decode("utf-8"), "isBase64Encoded": False}
    except (binascii.Error, UnicodeDecodeError):
        return {}


@dataclass(frozen=True)
class ApiDependencies:
    service: InferenceService
    idempotent_submit: IdempotentSubmit
    max_request_bytes: int
    # Feedback on served inferences (sluice.lifecycle.feedback); None: the routes answer 404.
    feedback: FeedbackService | None = None
    # Errors by code (metrics) and refused requests (the audit trail): sluice.observability.
    signals: Signals | None = None
    audit: AuditTrail | None = None


def build_app(dependencies: ApiDependencies) -> APIGatewayRestResolver:
    """The resolver over `dependencies`, which the handler builds once, at init."""
    app = SluiceResolver(enable_validation=True, json_body_deserializer=strict_json.loads)

    def caller(caller_key: str | None = None) -> Caller:
        return caller_of(app, caller_key)

    @app.post(
        "/v1/inferences",
        summary="Run an inference, now (sync) or as a queued job (async)",
        responses={
            200: {
                "description": "Answered",
                "content": {"application/json": {"model": SyncInferenceResponse}},
            },
            202: {
                "description": "Queued: follow `Location` (GET /v1/inferences/{job_id})",
                "content": {"application/json": {"model": AcceptedJob}},
            },
            **_error_responses(*_SUBMIT_ERRORS),
        },
        security=[{_API_KEY: []}],
    )
    def create_inference(
        request: Annotated[InferenceRequest, Body()],
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key", pattern=_IDEMPOTENCY_KEY.pattern, description="Makes a retry safe"
            ),
        ] = None,
        caller_key: Annotated[
            str | None,
            Header(
                alias="X-Caller-Key",
                pattern=_CALLER_KEY.pattern,
                description="Keeps this caller on one model variant",
            ),
        ] = None,
        reveal: Annotated[
            bool,
            Query(
                description="re-identify pseudonyms in a sync answer's output (needs the reveal permission)"
            ),
        ] = False,
    ) -> Response[dict[str, Any]]:
        guard_request(app, dependencies.max_request_bytes)
        who = caller(checked_caller_key(caller_key))
        if reveal:
            # Refused before the model runs: a caller without the permission is told at once.
            dependencies.service.check_reveal(who)

        def submit() -> dict[str, Any]:
            return submitted(dependencies.service, request, who)

        if idempotency_key is None:
            answer = submit()
        else:
            answer = dependencies.idempotent_submit(
                key=tenant_idempotency_key(who, idempotency_key),
                request=request.model_dump(mode="json"),
                submit=submit,
                lambda_context=app.lambda_context,
            )
        metrics.add_metric(name=f"Inferences{request.mode.capitalize()}", unit=MetricUnit.Count, value=1)
        body = answer["body"]
        if reveal and answer["status"] == HTTPStatus.OK and isinstance(body.get("output"), dict):
            # After the idempotency record: what is kept for replays stays pseudonymized.
            body = {**body, "output": dependencies.service.reveal(body["output"], who)}
        return _json(answer["status"], body, answer_headers(answer))

    @app.get(
        "/v1/inferences/<job_id>",
        summary="Status and output of an inference job",
        responses={
            200: {"description": "The job", "content": {"application/json": {"model": JobView}}},
            **_error_responses(*_READ_ERRORS),
        },
        security=[{_API_KEY: []}],
    )
    def get_inference(
        job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
        reveal: Annotated[
            bool, Query(description="re-identify pseudonyms (needs the reveal permission)")
        ] = False,
    ) -> JobView:
        return dependencies.service.get(job_id, caller(), reveal=reveal)

    def feedback_service() -> FeedbackService:
        if dependencies.feedback is None:
            raise ResourceNotFound("No such resource")
        return dependencies.feedback

    @app.post(
        "/v1/inferences/<job_id>/feedback",
        summary="Rate an answer and give the correct label; a second feedback replaces the first",
        responses={
            200: {"description": "Stored", "content": {"application/json": {"model": FeedbackReceipt}}},
            **_error_responses(*_FEEDBACK_ERRORS),
        },
        security=[{_API_KEY: []}],
    )
    def leave_feedback(
        job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
        submission: Annotated[FeedbackSubmission, Body()],
    ) -> FeedbackReceipt:
        guard_request(app, dependencies.max_request_bytes)
        receipt = feedback_service().submit(caller().tenant, job_id, submission)
        metrics.add_metric(name="FeedbackSubmitted", unit=MetricUnit.Count, value=1)
        return receipt

    @app.get("/v1/health", summary="Liveness of the API")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        document = app.get_openapi_schema(
            title="Sluice inference API",
            version=__version__,
            security_schemes={_API_KEY: APIKey(name="x-api-key", in_=APIKeyIn.header)},
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(
                _with_routes(_linked(_without_validation_422(document)), dependencies.service.routes()),
                separators=(",", ":"),
            ),
        )

    def observed(response: Response[dict[str, Any]], code: str) -> Response[dict[str, Any]]:
        """A refused request: counted by code, and audited (tenant, operation, code; no content)."""
        if dependencies.signals is not None:
            dependencies.signals.error(code, response.status_code)
        if dependencies.audit is not None:
            dependencies.audit.record(refusal_entry(app, code, response.status_code))
        return response

    def rejected(error: SluiceError) -> Response[dict[str, Any]]:
        return observed(error_response(error), error.code)

    @app.exception_handler(SluiceError)
    def domain_error(error: SluiceError) -> Response[dict[str, Any]]:
        return rejected(error)

    @app.exception_handler([RequestValidationError, RequestUnsupportedContentType])
    def invalid_request(
        error: RequestValidationError | RequestUnsupportedContentType,
    ) -> Response[dict[str, Any]]:
        try:
            guard_request(app, dependencies.max_request_bytes)
        except SluiceError as guard_error:
            return rejected(guard_error)
        if isinstance(error.__cause__, strict_json.UnacceptableJson):
            return rejected(error.__cause__.error)
        errors = error.errors()
        if any(item.get("type") == "json_invalid" for item in errors):
            return rejected(MalformedJson("The request body is not valid JSON"))
        # Field locations and pydantic's messages only: never the rejected values.
        detail = "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', ()) if part != 'body') or 'body'}: {item.get('msg')}"
            for item in errors[:10]
        )
        return rejected(InvalidRequest(detail or "The request is invalid"))

    @app.exception_handler(Exception)
    def unexpected_error(error: Exception) -> Response[dict[str, Any]]:
        # The request's own faults first (a parser deeper in Powertools may trip on them, as on a
        # multipart type without a boundary); anything else is a bug, not the caller's.
        try:
            guard_request(app, dependencies.max_request_bytes)
        except SluiceError as guard_error:
            return rejected(guard_error)
        # Log the type and trace (never the request), answer 500.
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return observed(
            _error(HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "The request failed; retry later"),
            "INTERNAL_ERROR",
        )

    @app.not_found
    def not_found(_: Exception) -> Response[dict[str, Any]]:
        path = app.current_event.path
        allowed = next((methods for pattern, methods in _METHODS.items() if pattern.match(path)), None)
        # A method the route has, on a path segment it cannot route (e.g. a malformed job id), is
        # a resource that does not exist; another method on a known path is a 405.
        if allowed is not None and app.current_event.http_method not in allowed:
            return _error(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "This resource does not support that method",
                {"Allow": ", ".join(allowed)},
            )
        return _error(HTTPStatus.NOT_FOUND, "NOT_FOUND", "No such resource")

    return app


# The tenant and idempotency rules of the routes, outside the route handlers so that
# `make mutation` can mutate them: mutmut skips decorated functions, and every handler is one.


def caller_of(app: APIGatewayRestResolver, caller_key: str | None = None) -> Caller:
    """The caller of the current request. The tenant is the API key's id: callers cannot choose
    it, API Gateway proves it."""
    identity = app.current_event.request_context.identity
    return Caller(
        tenant=identity.api_key_id or "anonymous",
        correlation_id=current_correlation_id(),
        caller_key=caller_key,
    )


def checked_caller_key(caller_key: str | None) -> str | None:
    # Powertools checks the header's pattern first; this keeps the rule if that ever changes.
    if caller_key is not None and not _CALLER_KEY.fullmatch(caller_key):
        raise InvalidRequest("X-Caller-Key must be 1-128 characters of [A-Za-z0-9_.:-]")
    return caller_key


def tenant_idempotency_key(who: Caller, idempotency_key: str) -> str:
    """The key as stored: scoped to the caller's tenant, so that another tenant reusing a key is
    never served this tenant's answer."""
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise InvalidRequest("Idempotency-Key must be 1-128 characters of [A-Za-z0-9_.:-]")
    return f"{who.tenant}#{idempotency_key}"


def submitted(service: InferenceService, request: InferenceRequest, who: Caller) -> dict[str, Any]:
    """The answer to a request, as the idempotency store keeps it for a replay."""
    result, warnings = service.submit_within_budget(request, who)
    status = HTTPStatus.OK if isinstance(result, SyncInferenceResponse) else HTTPStatus.ACCEPTED
    answer: dict[str, Any] = {"status": int(status), "body": result.model_dump(mode="json")}
    if warnings:
        # The tenant's soft limits this request crossed (sluice.cost): names, never amounts.
        answer["budget_warning"] = ",".join(str(limit) for limit in warnings)
    return answer


def answer_headers(answer: Mapping[str, Any]) -> dict[str, str]:
    """An accepted request's headers: where its job is, whether it was replayed, its warnings."""
    # Only a queued job has a record to point at: a sync answer is complete in itself.
    headers = (
        {"Location": f"/v1/inferences/{answer['body']['id']}"}
        if answer["status"] == HTTPStatus.ACCEPTED
        else {}
    )
    if answer.get("replayed"):
        headers["Idempotent-Replayed"] = "true"
    if answer.get("budget_warning"):
        headers[BUDGET_WARNING_HEADER] = answer["budget_warning"]
    return headers


def refusal_entry(app: APIGatewayRestResolver, code: str, status: int) -> AuditEntry:
    """A refused request in the audit trail: its tenant, operation and code, never its content."""
    identity = app.current_event.request_context.identity
    return AuditEntry(
        tenant=identity.api_key_id or "anonymous",
        kind=AuditKind.REQUEST,
        action="inference.refused",
        actor=identity.api_key_id or "anonymous",
        outcome="refused",
        decision="refused",
        code=code,
        details={"status": status, "method": app.current_event.http_method},
        correlation_id=current_correlation_id(),
    )


def _without_validation_422(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools documents a 422 `HTTPValidationError` on every validated route, replacing any
    422 the route declares. This API answers validation failures with 400 INVALID_REQUEST, so its
    only 422s are its own (IDEMPOTENCY_KEY_REUSED, MODEL_REJECTED_INPUT), in the error envelope."""
    envelope = _error_responses(HTTPStatus.UNPROCESSABLE_ENTITY)[int(HTTPStatus.UNPROCESSABLE_ENTITY)]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.get("responses", {})
            if "422" in responses:
                if (path, method) in _SENDS_422:
                    responses["422"] = {
                        "description": envelope["description"],
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                        },
                    }
                else:
                    del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return document


def _with_routes(document: dict[str, Any], table: RouteTable) -> dict[str, Any]:
    """The request body as the live route table defines it, one branch per route: its name, the
    input fields it requires, the modes and variants it serves. Routes change without a deploy
    (SSM), so a static schema could only say "a string"; this one is generated per request of the
    document, so a client or a fuzzer knows exactly what is accepted now."""
    branches: list[dict[str, Any]] = []
    for route in table.routes.values():
        fields = list(route.required_text_fields)
        branches.append(
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["route", "input", *(["mode"] if route.mode == "async" else [])],
                "properties": {
                    "route": {"const": route.name},
                    "input": {
                        "type": "object",
                        "required": fields,
                        # a non-blank string (the route's check_input)
                        "properties": {field: {"type": "string", "pattern": "\\S"} for field in fields},
                    },
                    "mode": {"enum": ["async"] if route.mode == "async" else ["sync", "async"]},
                    "variant": {
                        "anyOf": [{"enum": [v.name for v in route.production_variants]}, {"type": "null"}]
                    },
                },
            }
        )
    schemas = document.get("components", {}).get("schemas", {})
    if "InferenceRequest" in schemas and branches:
        # Each branch is a named component, so generated clients get one model per route.
        names = []
        for branch in branches:
            route = branch["properties"]["route"]["const"]
            name = "InferenceRequest" + "".join(part.title() for part in route.split("-"))
            schemas[f"{name}Input"] = {"title": f"{name}Input", **branch["properties"]["input"]}
            branch["properties"]["input"] = {"$ref": f"#/components/schemas/{name}Input"}
            schemas[name] = {"title": name, **branch}
            names.append(name)
        schemas["InferenceRequest"] = {
            "title": "InferenceRequest",
            "description": schemas["InferenceRequest"].get("description", ""),
            "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in names],
        }
    return document


def _linked(document: dict[str, Any]) -> dict[str, Any]:
    """What Powertools cannot declare: the 202's `Location` and its link to the job, the links
    from an answer to its feedback, and the `Retry-After` a 503 or 429 carries."""
    paths = document.get("paths", {})
    get_job = paths.get("/v1/inferences/{job_id}", {}).get("get", {})
    post = paths.get("/v1/inferences", {}).get("post", {})
    accepted = post.get("responses", {}).get("202")
    if accepted is not None and "operationId" in get_job:
        accepted["headers"] = {
            "Location": {
                "description": "The job's URL",
                "schema": {"type": "string"},
            }
        }
        accepted["links"] = {
            "GetInference": {
                "operationId": get_job["operationId"],
                "parameters": {"job_id": "$response.body#/id"},
            }
        }
    # An answer's id is what feedback takes: a sync answer's at once, a job's once it succeeded.
    feedback = paths.get("/v1/inferences/{job_id}/feedback", {}).get("post", {})
    if "operationId" in feedback:
        for status in ("200", "202"):
            answer = post.get("responses", {}).get(status)
            if answer is not None:
                answer.setdefault("links", {})["LeaveFeedback"] = {
                    "operationId": feedback["operationId"],
                    "parameters": {"job_id": "$response.body#/id"},
                }
    retry_after = {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer"},
    }
    for operations in paths.values():
        for operation in operations.values():
            for status in ("429", "503", "504"):
                if status in operation.get("responses", {}):
                    operation["responses"][status]["headers"] = {"Retry-After": retry_after}
    return document


def guard_request(app: APIGatewayRestResolver, max_request_bytes: int) -> None:
    """Checks that come before parsing: the body's media type and size."""
    event = app.current_event
    body = event.body or ""
    # surrogatepass: an unpaired surrogate is the parser's to refuse, not a crash here. A body
    # still base64-encoded (not UTF-8, see SluiceResolver) counts by its decoded size.
    size = (
        len(body) * 3 // 4 - body[-2:].count("=")
        if event.is_base64_encoded
        else len(body.encode("utf-8", "surrogatepass"))
    )
    if size > max_request_bytes:
        raise PayloadTooLarge(f"The request body exceeds {max_request_bytes} bytes")
    if event.http_method in ("POST", "PUT", "PATCH"):
        media_type, _, parameters = (event.headers.get("content-type") or "").partition(";")
        if media_type.strip().lower() != content_types.APPLICATION_JSON:
            raise UnsupportedMediaType("Content-Type must be application/json")
        charset = _parameter(parameters, "charset")
        if charset is not None and charset.lower() not in ("utf-8", "utf8"):
            # JSON is UTF-8 (RFC 8259 section 8.1): a body declared otherwise would be misread.
            raise UnsupportedMediaType("Content-Type charset must be utf-8")
        if event.is_base64_encoded:
            raise MalformedJson("The request body is not valid UTF-8")


def _parameter(parameters: str, name: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None


def error_response(error: SluiceError) -> Response[dict[str, Any]]:
    logger.info("request rejected", extra={"error_code": error.code, "status": int(error.status)})
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    headers = {"Retry-After": str(error.retry_after_seconds)} if error.retry_after_seconds else None
    return _error(error.status, error.code, error.message, headers)


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    body = ErrorResponse.model_validate({"error": {"code": code, "message": message}})
    return _json(status, body.model_dump(mode="json"), headers)


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    return Response(
        status_code=int(status), content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )
