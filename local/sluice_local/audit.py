"""`make audit TENANT=<tenant> [SINCE=1h|2026-12-01T00:00] [STACK=<stack>]`: a tenant's audit trail.

Prints the tenant's records from SINCE (a duration back from now, or an ISO time; default 24h),
oldest first, then verifies them: each record's digest, and each writer's chain (links and
sequence) within the window. Exits 1 if anything was altered or is missing. Without STACK it
reads the running local platform's table (`.sluice/outputs.json`); with STACK that deployed
stack's `AuditTableName` output, with the caller's AWS credentials (dynamodb:Query on it).
Admin actions that concern no tenant are filed under TENANT=_platform.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sluice.adapters.dynamodb_audit import DynamoAuditStore
from sluice.observability.audit import AuditRecord, verify
from sluice_local.outputs import DEFAULT_OUTPUTS, local_session, read_outputs
from sluice_local.provision import local_tenant_id

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def since_time(text: str, *, now: datetime | None = None) -> datetime:
    """`1h`, `30m`, `7d` back from now, or an ISO 8601 time (UTC when it names no zone)."""
    now = now or datetime.now(UTC)
    if match := _DURATION.fullmatch(text.strip()):
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SystemExit(f"SINCE must be a duration (30m, 1h, 7d) or an ISO time, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def render(records: list[AuditRecord]) -> str:
    """One line a record: ids, codes and counts (the trail holds nothing else)."""
    lines = []
    for record in records:
        redacted = sum(record.redactions.values())
        where = "/".join(part for part in (record.route, record.variant, record.model_version) if part) or "-"
        lines.append(
            f"{record.at.strftime('%Y-%m-%d %H:%M:%S')}  {record.kind:<7} {record.action:<22} "
            f"{record.outcome:<10} {where:<32} code={record.code or '-':<22} "
            f"redacted={redacted:<3} subject={record.subject or '-'}  corr={record.correlation_id or '-'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenant", required=True, help="a tenant (its API key id; locally `acme` works too)")
    parser.add_argument("--since", default="24h", help="a duration back from now or an ISO time")
    parser.add_argument("--stack", help="a deployed stack's name; without it, the local platform")
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS, help="the local platform's outputs")
    args = parser.parse_args(argv)
    since = since_time(args.since)

    client: Any
    tenant = args.tenant
    if args.stack:
        import boto3

        session = boto3.session.Session()
        stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        client = session.client("dynamodb")
    else:
        if not args.outputs.exists():
            raise SystemExit("the local platform is not running: start it with `make run`")
        outputs = read_outputs(args.outputs)
        client = local_session(outputs).client("dynamodb", endpoint_url=outputs["DynamoDbEndpointUrl"])
        # Locally a tenant's API key id is `local-<tenant>`: accept the tenant's plain name too.
        if not tenant.startswith("local-") and not tenant.startswith("_"):
            tenant = local_tenant_id(tenant)
    if "AuditTableName" not in outputs:
        raise SystemExit("this platform has no audit trail (no AuditTableName output)")
    records = DynamoAuditStore(client, outputs["AuditTableName"]).query(tenant, since=since)
    print(f"audit trail of {tenant} since {since.isoformat(timespec='seconds')}: {len(records)} records")
    if records:
        print(render(records))
    result = verify(records)
    verdict = "intact" if result.intact else "NOT INTACT"
    print(
        f"verified {result.records} records in {result.chains} chains: {verdict} "
        f"(altered {len(result.altered)}, broken links {len(result.broken_links)}, gaps {len(result.gaps)})"
    )
    for label, ids in (
        ("altered", result.altered),
        ("broken link", result.broken_links),
        ("gap before", result.gaps),
    ):
        for audit_id in ids:
            print(f"  {label}: {audit_id}")
    return 0 if result.intact else 1


if __name__ == "__main__":
    sys.exit(main())
