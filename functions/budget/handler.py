"""`budget` function: cost alarms (EventBridge), AWS Budgets (SNS) and a schedule in; cost actions
applied and reverted. Logic in `sluice.cost`."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.cost.handling import handle_budget_event
from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.runtime import budget as runtime

# Built at init, once per instance.
budget = runtime.build(runtime.Settings.from_environment())


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    return handle_budget_event(event, budget)
