"""`sweeper` function: a schedule in, lost async notifications finished. Logic in `sluice.jobs.sweeper`."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import logger, metrics, tracer
from sluice.observability.errors import contain_errors
from sluice.runtime import sweeper as runtime

# Built at init, once per instance.
sweeper = runtime.build(runtime.Settings.from_environment())


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@contain_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    swept = asdict(sweeper.sweep())
    logger.info("sweep done", extra=swept)
    return swept
