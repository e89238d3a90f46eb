"""`api` function: API Gateway REST proxy events in, JSON out. Logic lives in `sluice.api`."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.api import build_app
from sluice.observability import logger, metrics, tracer
from sluice.wiring import api_dependencies

app = build_app(api_dependencies)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
