"""`worker` function: SQS batches of jobs in, partial batch failures out. Logic in `sluice.jobs`."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.jobs.sqs_handler import handle_job_batch
from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.runtime import worker as runtime

# Built at init, once per instance.
worker = runtime.build(runtime.Settings.from_environment())


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle_job_batch(event, context, worker)
