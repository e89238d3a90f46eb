"""The live route table: an SSM parameter read through Powertools Parameters, with caching.

Why SSM Parameter Store and not AppConfig: both are read the same way through Powertools, but
the local platform runs on moto, which implements AppConfig's control plane and not its data
plane (StartConfigurationSession/GetLatestConfiguration), so AppConfig could not run locally.

The table the stack deployed (the ROUTES variable) is the starting point; the parameter's
value replaces it once read and validated. An unreadable or invalid value keeps the last good
table (and says so in a metric), so an operator's typo never takes the platform down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters import SSMProvider
from pydantic import ValidationError

from sluice.observability import logger, metrics
from sluice.routing.table import RouteTable


class ParameterRouteSource:
    def __init__(
        self,
        parameter_name: str,
        *,
        deployed: RouteTable,
        max_age_seconds: int,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = parameter_name
        self._max_age = max_age_seconds
        self._provider = SSMProvider(boto3_client=client)
        self._clock = clock
        self._table = deployed
        self._raw: Any = None
        self._retry_at = 0.0

    def current(self) -> RouteTable:
        now = self._clock()
        if now < self._retry_at:
            return self._table  # the last read failed: do not pay for another on every request
        try:
            raw = self._provider.get(self._name, max_age=self._max_age, transform="json")
            if raw is not self._raw:  # Powertools returns the cached object until max_age: validate once
                self._table = RouteTable.model_validate(raw)
                self._raw = raw
        except ValidationError as error:
            self._fail("invalid", error_count=error.error_count(), now=now)
        except Exception:
            self._fail("unreadable", error_count=1, now=now)
        return self._table

    def _fail(self, why: str, *, error_count: int, now: float) -> None:
        # The parameter's name and the error count, never its content.
        logger.exception(
            f"route table parameter {why}; keeping the last good table",
            extra={"parameter": self._name, "errors": error_count},
        )
        metrics.add_metric(name="RouteTableReadFailed", unit=MetricUnit.Count, value=1)
        self._retry_at = now + self._max_age
