"""`review_intake` function: the review queue (SQS) into the review table. Logic in `sluice.review`."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.review.sqs_handler import handle_review_batch
from sluice.runtime import review_intake as runtime

# Built at init, once per instance.
intake = runtime.build(runtime.Settings.from_environment())


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle_review_batch(event, context, intake)
