"""`ingest` function: S3 notifications via SQS in, jobs queued per record. Logic in `sluice.uploads`."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.runtime import ingest as runtime
from sluice.uploads.s3_events import handle_ingest_batch

# Built at init, once per instance: settings validated, clients made, PII word lists loaded.
ingestion = runtime.build(runtime.Settings.from_environment())


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle_ingest_batch(event, context, ingestion)
