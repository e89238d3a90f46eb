"""The operator API of human review: list, read and resolve review items.

Served by its own function behind API Gateway's AWS_IAM authorization (never a tenant's API
key): the reviewer is the IAM identity API Gateway verified (`requestContext.identity.userArn`).
A request without one never reached here through the gateway, and is refused (403) all the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from sluice import __version__
from sluice.errors import InvalidRequest, SluiceError
from sluice.observability import logger
from sluice.review.models import ResolutionReceipt, ResolutionSubmission, ReviewItem, ReviewPage, ReviewState
from sluice.review.service import MAX_PAGE, NotAnOperator, ReviewService
from sluice.serving import strict_json
from sluice.serving.api import SluiceResolver
from sluice.serving.models import ErrorResponse

_SIGV4 = "sigv4"
_REVIEW_ID = r"^[0-9a-f]{32}$"


def _errors(*statuses: HTTPStatus) -> dict[int, Any]:
    common = (HTTPStatus.BAD_REQUEST, HTTPStatus.FORBIDDEN, HTTPStatus.INTERNAL_SERVER_ERROR)
    return {
        int(status): {"description": status.phrase, "content": {"application/json": {"model": ErrorResponse}}}
        for status in sorted({*common, *statuses})
    }


@dataclass(frozen=True)
class OperatorApiDependencies:
    service: ReviewService


def build_operator_app(dependencies: OperatorApiDependencies) -> APIGatewayRestResolver:
    # The tenant API's resolver: the same body decoding (bodies arrive base64-encoded: the stack
    # declares every media type binary), media-type parsing and correlation id.
    app = SluiceResolver(enable_validation=True, json_body_deserializer=strict_json.loads)
    service = dependencies.service

    def reviewer() -> str:
        identity = app.current_event.request_context.identity
        arn = identity.user_arn
        if not arn:
            raise NotAnOperator("This API needs an IAM identity (SigV4-signed request)")
        return arn

    # Before the item route: `openapi.json` would otherwise be taken for a review id.
    @app.get("/v1/reviews/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        document = app.get_openapi_schema(
            title="Sluice operator API: human review",
            version=__version__,
            # API Gateway's AWS_IAM authorization: a SigV4 Authorization header.
            security_schemes={_SIGV4: APIKey(name="Authorization", in_=APIKeyIn.header)},
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        document["components"]["securitySchemes"][_SIGV4]["x-amazon-apigateway-authtype"] = "awsSigv4"
        envelope = {
            "description": "Unprocessable Entity",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        }
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.get("responses", {})
                # Validation failures are answered 400 INVALID_REQUEST, not Powertools' 422; the
                # only 422 is a label of another route (REVIEW_LABEL_NOT_FOR_ROUTE).
                if path.endswith("/resolution"):
                    responses["422"] = envelope
                else:
                    responses.pop("422", None)
        for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
            document.get("components", {}).get("schemas", {}).pop(unused, None)
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(document, separators=(",", ":")),
        )

    @app.get(
        "/v1/reviews",
        summary="Review items by state (and route), oldest first",
        responses={
            200: {"description": "A page of items", "content": {"application/json": {"model": ReviewPage}}},
            **_errors(),
        },
        security=[{_SIGV4: []}],
    )
    def list_reviews(
        state: Annotated[ReviewState, Query(description="open or resolved")] = ReviewState.OPEN,
        route: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{0,30}$")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        next: Annotated[str | None, Query(max_length=2048, description="The previous page's `next`")] = None,
    ) -> ReviewPage:
        reviewer()
        return service.list(state=state, route=route, limit=limit, after=next)

    @app.get(
        "/v1/reviews/<review_id>",
        summary="One review item",
        responses={
            200: {"description": "The item", "content": {"application/json": {"model": ReviewItem}}},
            **_errors(HTTPStatus.NOT_FOUND),
        },
        security=[{_SIGV4: []}],
    )
    def get_review(review_id: Annotated[str, Path(pattern=_REVIEW_ID)]) -> ReviewItem:
        reviewer()
        return service.get(review_id)

    @app.post(
        "/v1/reviews/<review_id>/resolution",
        summary="Resolve an item with a label; it becomes the inference's labelled feedback",
        responses={
            200: {
                "description": "Resolved (or already resolved the same way: `replayed`)",
                "content": {"application/json": {"model": ResolutionReceipt}},
            },
            **_errors(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY),
        },
        security=[{_SIGV4: []}],
    )
    def resolve_review(
        review_id: Annotated[str, Path(pattern=_REVIEW_ID)],
        submission: Annotated[ResolutionSubmission, Body()],
    ) -> ResolutionReceipt:
        return service.resolve(review_id, submission, reviewer=reviewer())

    @app.exception_handler(SluiceError)
    def domain_error(error: SluiceError) -> Response[dict[str, Any]]:
        return _rejected(error)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
        if isinstance(error.__cause__, strict_json.UnacceptableJson):
            return _rejected(error.__cause__.error)
        errors = error.errors()
        if any(item.get("type") == "json_invalid" for item in errors):
            return _error(HTTPStatus.BAD_REQUEST, "MALFORMED_JSON", "The request body is not valid JSON")
        # Field locations and pydantic's messages only: never the rejected values.
        detail = "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', ()) if part != 'body') or 'body'}: {item.get('msg')}"
            for item in errors[:10]
        )
        return _rejected(InvalidRequest(detail or "The request is invalid"))

    @app.exception_handler(Exception)
    def unexpected_error(error: Exception) -> Response[dict[str, Any]]:
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "The request failed; retry later")

    @app.not_found
    def not_found(_: Exception) -> Response[dict[str, Any]]:
        return _error(HTTPStatus.NOT_FOUND, "NOT_FOUND", "No such resource")

    return app


def _rejected(error: SluiceError) -> Response[dict[str, Any]]:
    logger.info("operator request rejected", extra={"error_code": error.code, "status": int(error.status)})
    return _error(error.status, error.code, error.message)


def _error(status: int, code: str, message: str) -> Response[dict[str, Any]]:
    body = ErrorResponse.model_validate({"error": {"code": code, "message": message}})
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump(mode="json"),
    )
