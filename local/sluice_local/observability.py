"""The local platform's observability: the audit trail's table, queue and rule, and the EMF sink.

The audit resources mirror infra/observability.py (a table keyed tenant + time, the bus's
audited events through a queue to the `audit` function). Locally the functions print their EMF
documents to stdout, as in Lambda; `EmfSink` keeps a copy of each in `.sluice/metrics/emf.jsonl`
(CloudWatch's part), which `make dashboard` draws.
"""

from __future__ import annotations

import io
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sluice.adapters.dynamodb_audit import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from sluice.observability.audit_events import AUDITED_EVENTS
from sluice.runtime import audit
from sluice_local.provision import PREFIX, STATE_DIR, LocalResources, dead_lettered_queue

AUDIT_TABLE = f"{PREFIX}-audit"
AUDIT_RULE = f"{PREFIX}-audited-events"
EMF_FILE = STATE_DIR / "metrics" / "emf.jsonl"


@dataclass(frozen=True)
class LocalAudit:
    table: str
    queue_url: str
    queue_arn: str
    settings: audit.Settings

    @property
    def api_environment(self) -> dict[str, str]:
        """What the api adds to its environment to append request records."""
        return {"AUDIT_TABLE_NAME": self.table}


def provision_audit(
    resources: LocalResources,
    *,
    dynamodb: Any,
    sqs: Any,
    events: Any,
    visibility_timeout_seconds: int,
    log_level: str,
) -> LocalAudit:
    if AUDIT_TABLE not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=AUDIT_TABLE,
            AttributeDefinitions=[
                {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": SORT_KEY, "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=AUDIT_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
    queue_url, queue_arn, _ = dead_lettered_queue(
        sqs,
        f"{PREFIX}-audit-events",
        visibility_timeout_seconds=visibility_timeout_seconds,
        max_receive_count=5,
    )
    events.put_rule(
        Name=AUDIT_RULE,
        EventBusName=resources.event_bus,
        EventPattern=json.dumps({"source": ["sluice"], "detail-type": list(AUDITED_EVENTS)}),
    )
    events.put_targets(
        Rule=AUDIT_RULE, EventBusName=resources.event_bus, Targets=[{"Id": "audit", "Arn": queue_arn}]
    )
    settings = audit.Settings(service_name="sluice-audit", log_level=log_level, audit_table=AUDIT_TABLE)
    return LocalAudit(table=AUDIT_TABLE, queue_url=queue_url, queue_arn=queue_arn, settings=settings)


class EmfSink(io.TextIOBase):
    """stdout, and a copy of every EMF document written to it in `path` (one JSON a line).

    Functions run on many threads here; each thread's partial line is kept apart until its
    newline, so two documents printed at once are never spliced together.
    """

    def __init__(self, stream: TextIO, path: Path = EMF_FILE) -> None:
        super().__init__()
        self._stream = stream
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._pending = threading.local()

    def write(self, text: str) -> int:
        self._stream.write(text)
        buffered = getattr(self._pending, "text", "") + text
        *lines, rest = buffered.split("\n")
        self._pending.text = rest
        documents = [line for line in lines if line.startswith("{") and '"_aws"' in line]
        if documents:
            with self._lock:
                self._file.write("".join(f"{document}\n" for document in documents))
                self._file.flush()
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
        super().close()

    @classmethod
    def install(cls, path: Path = EMF_FILE) -> EmfSink:
        """Replace `sys.stdout` (where Powertools prints metrics) with a sink over it."""
        sink = cls(sys.stdout, path)
        sys.stdout = sink
        return sink
