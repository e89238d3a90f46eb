"""The local API Gateway: HTTP in, REST proxy events to the real `api` handler, HTTP out.

It does what the deployed gateway does before the function runs: checks the API key on keyed
methods (the key's id becomes the tenant), verifies the SigV4 signature on the operator routes
(AWS_IAM: the signer becomes `requestContext.identity`, and those go to the `reviews` function),
and caps the body size, answering in the same `{"error": {"code", "message"}}` envelope as the
stack's gateway responses.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sluice_local.lambda_events import api_gateway_event
from sluice_local.operator_auth import Operator, Refusal, verify
from sluice_local.runtime import FunctionInstances, InvocationTimedOut

API_GATEWAY_MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class Resource:
    pattern: re.Pattern[str]
    resource: str
    api_key_required: bool
    # AWS_IAM authorization, served by the `reviews` function (infra/review.py).
    operator: bool = False


# The stack's resources (infra/rest_api.py), in the same order of precedence.
RESOURCES = (
    Resource(re.compile(r"^/v1/inferences$"), "/v1/inferences", True),
    Resource(re.compile(r"^/v1/inferences/(?P<id>[^/]+)$"), "/v1/inferences/{id}", True),
    Resource(re.compile(r"^/v1/inferences/(?P<id>[^/]+)/feedback$"), "/v1/inferences/{id}/feedback", True),
    Resource(re.compile(r"^/v1/health$"), "/v1/health", False),
    Resource(re.compile(r"^/v1/openapi\.json$"), "/v1/openapi.json", False),
    Resource(re.compile(r"^/v1/reviews$"), "/v1/reviews", False, operator=True),
    Resource(re.compile(r"^/v1/reviews/openapi\.json$"), "/v1/reviews/openapi.json", False, operator=True),
    Resource(re.compile(r"^/v1/reviews/(?P<id>[^/]+)$"), "/v1/reviews/{id}", False, operator=True),
    Resource(
        re.compile(r"^/v1/reviews/(?P<id>[^/]+)/resolution$"),
        "/v1/reviews/{id}/resolution",
        False,
        operator=True,
    ),
)


def _gateway_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def build_front(
    api: FunctionInstances,
    *,
    api_keys: dict[str, str],
    stage: str,
    operator_api: FunctionInstances | None = None,
    operators: Mapping[str, Operator] | None = None,
    region: str = "us-east-1",
) -> Starlette:
    """`api_keys` maps key value to key id (the tenant); `operators` access key id to operator."""

    async def proxy(request: Request) -> Response:
        path = request.url.path
        match = next(((r, m) for r in RESOURCES if (m := r.pattern.match(path))), None)
        if match is None:
            return _gateway_error(404, "NOT_FOUND", "No such resource")
        resource, found = match
        api_key = request.headers.get("x-api-key")
        key_id = api_keys.get(api_key or "")
        if resource.api_key_required and key_id is None:
            return _gateway_error(403, "INVALID_API_KEY", "A valid x-api-key header is required")
        raw = await request.body()
        if len(raw) > API_GATEWAY_MAX_BODY:
            return _gateway_error(413, "INPUT_TOO_LARGE", "The request body is too large")
        function, identity = api, None
        if resource.operator:
            if operator_api is None:
                return _gateway_error(404, "NOT_FOUND", "No such resource")
            signer = verify(
                method=request.method,
                url=str(request.url),
                headers=dict(request.headers),
                body=raw,
                operators=operators or {},
                region=region,
            )
            if isinstance(signer, Refusal):
                return _gateway_error(403, signer.code, signer.message)
            # An API key is not an operator's identity: it is not passed on.
            function, identity, api_key, key_id = operator_api, signer.identity(), None, None
        event = api_gateway_event(
            method=request.method,
            path=path,
            resource=resource.resource,
            headers=dict(request.headers),
            query=dict(request.query_params),
            body=raw or None,
            path_parameters=found.groupdict() or None,
            api_key=api_key if key_id else None,
            api_key_id=key_id,
            source_ip=request.client.host if request.client else "127.0.0.1",
            stage=stage,
            iam_identity=identity,
        )
        try:
            result = await run_in_threadpool(function.invoke, event)
        except InvocationTimedOut:
            # API Gateway answers a Lambda proxy integration that times out 504 and one whose
            # function fails 502, both in the stack's DEFAULT_5XX envelope (infra/rest_api.py);
            # the function answers every error it knows itself.
            return _gateway_error(504, "INTERNAL_ERROR", "The service failed; retry later")
        except Exception:
            return _gateway_error(502, "INTERNAL_ERROR", "The service failed; retry later")
        body = result.get("body") or ""
        content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        headers = {
            k: v if isinstance(v, str) else ",".join(v) for k, v in (result.get("headers") or {}).items()
        }
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ",".join(values)
        headers.pop("Content-Length", None)
        return Response(content=content, status_code=result["statusCode"], headers=headers)

    # Every method reaches the handler, as API Gateway's proxy would: TRACE and the like get the
    # API's own 405 in the error envelope, not the web framework's plain-text answer.
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "CONNECT"]
    return Starlette(routes=[Route("/{path:path}", proxy, methods=methods)])
