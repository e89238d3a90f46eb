"""`ingest` function: S3 notifications via SQS in, jobs queued per record. Logic in `sluice.ingest`."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.ingest.s3_events import handle_ingest_batch
from sluice.observability import logger, metrics, tracer
from sluice.wiring import ingestion


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle_ingest_batch(event, context, ingestion())
