"""The REST API: routes, request guards and the single mapping from errors to HTTP.

Built on Powertools' APIGatewayRestResolver with validation on, so the OpenAPI document at
`/v1/openapi.json` is generated from the same pydantic models that validate requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit

from sluice import __version__
from sluice.contracts import (
    AcceptedJob,
    ErrorResponse,
    InferenceRequest,
    JobView,
    SyncInferenceResponse,
)
from sluice.errors import (
    InvalidRequest,
    MalformedJson,
    PayloadTooLarge,
    SluiceError,
    UnsupportedMediaType,
)
from sluice.idempotency import IdempotentSubmit
from sluice.inference import Caller, InferenceService
from sluice.observability import logger, metrics

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_CALLER_KEY = _IDEMPOTENCY_KEY
_ERRORS: dict[int, OpenAPIResponse] = {
    status: {
        "description": status.phrase,
        "content": {"application/json": {"schema": ErrorResponse.model_json_schema()}},
    }
    for status in (HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND, HTTPStatus.SERVICE_UNAVAILABLE)
}


@dataclass(frozen=True)
class ApiDependencies:
    service: InferenceService
    idempotent_submit: IdempotentSubmit
    max_request_bytes: int


def build_app(dependencies: Callable[[], ApiDependencies]) -> APIGatewayRestResolver:
    """Build the resolver; `dependencies` is called on first use, so cold start stays cheap."""
    app = APIGatewayRestResolver(enable_validation=True)

    def caller(caller_key: str | None = None) -> Caller:
        identity = app.current_event.request_context.identity
        # The tenant is the API key's id: callers cannot choose it, API Gateway proves it.
        return Caller(
            tenant=identity.api_key_id or "anonymous",
            correlation_id=logger.get_correlation_id(),
            caller_key=caller_key,
        )

    @app.post(
        "/v1/inferences",
        summary="Run an inference, now (sync) or as a queued job (async)",
        responses={
            200: {
                "description": "Answered",
                "content": {"application/json": {"model": SyncInferenceResponse}},
            },
            202: {"description": "Queued", "content": {"application/json": {"model": AcceptedJob}}},
            **_ERRORS,
        },
    )
    def create_inference(
        request: Annotated[InferenceRequest, Body()],
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
        caller_key: Annotated[
            str | None,
            Header(alias="X-Caller-Key", description="Keeps this caller on one model variant"),
        ] = None,
    ) -> Response[dict[str, Any]]:
        guard_request(app, dependencies().max_request_bytes)
        deps = dependencies()
        if caller_key is not None and not _CALLER_KEY.fullmatch(caller_key):
            raise InvalidRequest("X-Caller-Key must be 1-128 characters of [A-Za-z0-9_.:-]")
        who = caller(caller_key)

        def submit() -> dict[str, Any]:
            result = deps.service.submit(request, who)
            status = HTTPStatus.OK if isinstance(result, SyncInferenceResponse) else HTTPStatus.ACCEPTED
            return {"status": int(status), "body": result.model_dump(mode="json")}

        if idempotency_key is None:
            answer = submit()
        else:
            if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
                raise InvalidRequest("Idempotency-Key must be 1-128 characters of [A-Za-z0-9_.:-]")
            answer = deps.idempotent_submit(
                key=f"{who.tenant}#{idempotency_key}",
                request=request.model_dump(mode="json"),
                submit=submit,
                lambda_context=app.lambda_context,
            )
        metrics.add_metric(name=f"Inferences{request.mode.capitalize()}", unit=MetricUnit.Count, value=1)
        headers = {"Location": f"/v1/inferences/{answer['body']['id']}"}
        if answer.get("replayed"):
            headers["Idempotent-Replayed"] = "true"
        return _json(answer["status"], answer["body"], headers)

    @app.get("/v1/inferences/<job_id>", summary="Status and output of an inference job", responses=_ERRORS)
    def get_inference(
        job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
        reveal: Annotated[
            bool, Query(description="re-identify pseudonyms (needs the reveal permission)")
        ] = False,
    ) -> JobView:
        return dependencies().service.get(job_id, caller(), reveal=reveal)

    @app.get("/v1/health", summary="Liveness of the API")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        document = app.get_openapi_json_schema(title="Sluice inference API", version=__version__)
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)

    @app.exception_handler(SluiceError)
    def domain_error(error: SluiceError) -> Response[dict[str, Any]]:
        return error_response(error)

    @app.exception_handler([RequestValidationError, RequestUnsupportedContentType])
    def invalid_request(
        error: RequestValidationError | RequestUnsupportedContentType,
    ) -> Response[dict[str, Any]]:
        try:
            guard_request(app, dependencies().max_request_bytes)
        except SluiceError as guard_error:
            return error_response(guard_error)
        errors = error.errors()
        if any(item.get("type") == "json_invalid" for item in errors):
            return error_response(MalformedJson("The request body is not valid JSON"))
        # Field locations and pydantic's messages only: never the rejected values.
        detail = "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', ()) if part != 'body')}: {item.get('msg')}"
            for item in errors[:10]
        )
        return error_response(InvalidRequest(detail or "The request is invalid"))

    @app.exception_handler(Exception)
    def unexpected_error(error: Exception) -> Response[dict[str, Any]]:
        # A bug, not the caller's fault: log the type and trace (never the request), answer 500.
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "The request failed; retry later")

    @app.not_found
    def not_found(_: Exception) -> Response[dict[str, Any]]:
        return _error(HTTPStatus.NOT_FOUND, "NOT_FOUND", "No such resource")

    return app


def guard_request(app: APIGatewayRestResolver, max_request_bytes: int) -> None:
    """Checks that come before parsing: the body's media type and size."""
    event = app.current_event
    body = event.body or ""
    if len(body.encode()) > max_request_bytes:
        raise PayloadTooLarge(f"The request body exceeds {max_request_bytes} bytes")
    if event.http_method in ("POST", "PUT", "PATCH"):
        content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type != content_types.APPLICATION_JSON:
            raise UnsupportedMediaType("Content-Type must be application/json")


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
