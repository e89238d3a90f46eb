"""`drift_monitor` function: on its schedule, one window of captured answers per endpoint against
the model's baseline; `DriftDetected` on the bus when a window drifts. Logic in `sluice.lifecycle`."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.runtime.drift_monitor import Settings, build, run_scheduled

SETTINGS = Settings.from_environment()
MONITOR = build(SETTINGS)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    verdicts = run_scheduled(event, SETTINGS, MONITOR)
    return {"windows": [verdict.model_dump(mode="json", exclude={"test"}) for verdict in verdicts]}
