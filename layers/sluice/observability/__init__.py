"""The one Logger, Tracer and Metrics of the platform, and what is built on them.

Log identifiers and counts, never payloads: this platform exists to keep personal data out
of places. Service name and namespace come from POWERTOOLS_* variables set by the stack.
The subpackage holds the correlation id (`correlation`), the operational metrics with their
bounded dimensions (`signals`), the dashboard's panels (`panels`) and the audit trail (`audit`).
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

from sluice.pii.logging import PiiRedactingFormatter

# Health checks and rejected requests legitimately emit no metric; the warning is noise.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Every string a log line carries is redacted: an identifier is fine, an email is not.
# Service and namespace are each function's own, read by Powertools from POWERTOOLS_SERVICE_NAME
# and POWERTOOLS_METRICS_NAMESPACE (sluice.runtime.shared.PowertoolsSettings renders them).
logger = Logger(logger_formatter=PiiRedactingFormatter())
tracer = Tracer()
metrics = Metrics()

__all__ = ["logger", "metrics", "tracer"]
