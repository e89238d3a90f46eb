"""`audit` function: platform events (EventBridge → SQS) into the audit trail. Logic in `sluice.observability`."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.observability.audit_events import handle_audit_batch
from sluice.observability.errors import contain_errors
from sluice.runtime import audit as runtime

# Built at init, once per instance.
trail = runtime.build(runtime.Settings.from_environment())


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle_audit_batch(event, context, trail)
