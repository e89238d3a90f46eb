"""`drift_monitor` function: on its schedule, one window of captured answers per endpoint against
the model's baseline (`DriftDetected`), and the window's feedback accuracy per model version
(`QualityDegraded`). Logic in `sluice.lifecycle`."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.runtime import drift_monitor as runtime

# Built at init, once per instance.
settings = runtime.Settings.from_environment()
monitor = runtime.build(settings)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    drift, quality = runtime.run_scheduled(event, settings, monitor)
    return {
        "windows": [verdict.model_dump(mode="json", exclude={"test"}) for verdict in drift],
        "feedback_windows": [verdict.model_dump(mode="json", exclude={"test"}) for verdict in quality],
    }
