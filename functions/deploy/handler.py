"""`deploy` function: an approved model package rolled out with SageMaker deployment guardrails
(blue/green canary, automatic rollback on alarms), its outcome when the endpoint settles
(`ModelDeployed`, `ModelRolledBack`), a gate's rejection (`ModelRejected`), an operator's
rollback. Logic in `sluice.lifecycle.deploy`."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.runtime import deploy as runtime

# Built at init, once per instance.
deploy = runtime.build(runtime.Settings.from_environment())


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return deploy.handle(event).model_dump(mode="json")
