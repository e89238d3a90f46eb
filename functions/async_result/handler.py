"""`async_result` function: SageMaker async notifications (SNS → SQS) in. Logic in `sluice.async_results`."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.async_results import handle_async_results
from sluice.observability import logger, metrics, tracer
from sluice.wiring import async_results


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle_async_results(event, context, async_results())
