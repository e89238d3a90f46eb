"""`api` function: API Gateway REST proxy events in, JSON out. Logic lives in `sluice.serving`."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.runtime import api as runtime
from sluice.serving.api import build_app

# Built at init, once per instance: settings validated, clients made, PII word lists loaded.
app = build_app(runtime.build(runtime.Settings.from_environment()))


# The correlation id is set by the resolver (sluice.observability.correlation): the client's own
# X-Correlation-Id when well formed, else API Gateway's request id.
@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
