"""`feedback_export` function: on its schedule, labelled feedback of each lifecycle route to the
retraining pipeline's input; `LabelledFeedbackArrived` when enough new arrived. Logic in `sluice.lifecycle`."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.runtime import feedback_export as runtime

# Built at init, once per instance.
settings = runtime.Settings.from_environment()
exporter = runtime.build(settings)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    reports = runtime.run_scheduled(event, settings, exporter)
    return {"routes": [report.model_dump(mode="json", exclude={"export_uri"}) for report in reports]}
