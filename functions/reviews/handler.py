"""`reviews` function: the operator API of human review (API Gateway, AWS_IAM). Logic in `sluice.review`."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.review.api import build_operator_app
from sluice.runtime import reviews as runtime

# Built at init, once per instance.
app = build_operator_app(runtime.build(runtime.Settings.from_environment()))


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
