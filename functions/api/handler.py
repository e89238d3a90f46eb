"""`api` function: API Gateway REST proxy events in, JSON out. Logic lives in `sluice.serving`."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.runtime import api as runtime
from sluice.serving.api import build_app

# Built at init, once per instance: settings validated, clients made, PII word lists loaded.
app = build_app(runtime.build(runtime.Settings.from_environment()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
