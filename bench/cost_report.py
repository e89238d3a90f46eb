"""make cost-report: cost per 1,000 requests by route, variant and tenant, from metering data.

Two sources of metering data:
- default, a metering run: real inferences of the default intent model (model/inference.py,
  in process, as the endpoint hosts it) for three tenants with different traffic (short
  queries one at a time, long queries, uploaded files in batches of 16), each metered by the
  same `sluice.cost.Meter` the platform uses, into the cost table on in-process moto;
- `--from-platform`: the cost table of a running `make run` (.sluice/outputs.json).

The report attributes each hour's instance bill (the variant's instance price from cdk.json)
by the measured share of model time (`sluice.cost.attribution`), so the tenants' figures add up
to the bill, and shows it next to the request path's estimate (model time over the expected
utilization). Writes bench/results/cost_report.md and cost_report.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT / "local")]

from sluice.adapters.dynamodb_meter import DynamoUsageCounters  # noqa: E402
from sluice.config import DeploymentConfig  # noqa: E402
from sluice.cost.attribution import IDLE, AttributedUsage, attribute  # noqa: E402
from sluice.cost.metering import InferenceUsage, Meter  # noqa: E402
from sluice.cost.pricing import PriceList  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def load_config() -> DeploymentConfig:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]["sluice"]
    return DeploymentConfig.model_validate(context)


def load_texts() -> list[str]:
    with (ROOT / "data" / "banking77" / "test.csv").open(newline="", encoding="utf-8") as file:
        return [row["text"] for row in csv.DictReader(file)]


def metering_run(config: DeploymentConfig, counters: DynamoUsageCounters, *, requests: int) -> None:
    """Real model calls, metered as the request path and the worker meter them."""
    from sluice_local.endpoint import load_handler

    handler = load_handler()
    model = handler.model_fn(str(ROOT / ".sluice" / "model"))
    texts = load_texts()
    route = config.route("intent")
    variant = route.endpoint.production_variants[0]
    meter = Meter(counters, PriceList.from_config(config))
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    handler.predict_fn([handler.Instance(texts[0])], model)  # warm-up, not metered

    def call(batch: list[str]) -> tuple[float, list[int], list[int]]:
        instances = [handler.Instance(text) for text in batch]
        started = time.perf_counter()
        predictions = handler.predict_fn(instances, model)
        elapsed_ms = (time.perf_counter() - started) * 1000
        bytes_in = [len(json.dumps({"text": text}).encode()) for text in batch]
        bytes_out = [len(json.dumps(p, default=str).encode()) for p in predictions]
        return elapsed_ms, bytes_in, bytes_out

    # Three tenants: short queries one per call; long queries (four joined) one per call; and
    # uploaded files, served by the worker in micro-batches of the route's batch size.
    shares = {"default": 0.5, "globex": 0.2, config.ingest.tenant: 0.3}
    plan: list[tuple[str, list[str]]] = []
    cursor = 0
    for tenant, share in shares.items():
        count = int(requests * share)
        if tenant == config.ingest.tenant:
            for start in range(0, count, route.batch_size):
                size = min(route.batch_size, count - start)
                plan.append((tenant, [texts[(cursor + i) % len(texts)] for i in range(size)]))
                cursor += size
        else:
            for _ in range(count):
                joined = 4 if tenant == "globex" else 1
                plan.append((tenant, [" ".join(texts[(cursor + i) % len(texts)] for i in range(joined))]))
                cursor += joined
    with tqdm(total=sum(len(batch) for _, batch in plan), desc="metering run", unit="request") as progress:
        for tenant, batch in plan:
            elapsed_ms, bytes_in, bytes_out = call(batch)
            meter.record_all(
                InferenceUsage(
                    tenant=tenant,
                    route=route.name,
                    variant=variant.name,
                    model_version=variant.model_version,
                    model_ms=elapsed_ms / len(batch),  # a batch's time, shared by its jobs
                    bytes_in=size_in,
                    bytes_out=size_out,
                    at=hour,
                )
                for size_in, size_out in zip(bytes_in, bytes_out, strict=True)
            )
            progress.update(len(batch))


def _per_1k(usd: float, requests: float) -> float | None:
    return usd / requests * 1000 if requests else None


def summarize(rows: list[AttributedUsage]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        group = groups[(row.route, row.variant, row.tenant)]
        group["requests"] += row.requests
        group["model_ms"] += row.model_ms
        group["metered_usd"] += row.metered_usd
        group["attributed_usd"] += row.attributed_usd
    table = []
    for (route, variant, tenant), g in sorted(groups.items()):
        table.append(
            {
                "route": route,
                "variant": variant,
                "tenant": tenant,
                "requests": int(g["requests"]),
                "model_ms_per_request": g["model_ms"] / g["requests"] if g["requests"] else None,
                "metered_usd": g["metered_usd"],
                "attributed_usd": g["attributed_usd"],
                "metered_per_1k": _per_1k(g["metered_usd"], g["requests"]),
                "attributed_per_1k": _per_1k(g["attributed_usd"], g["requests"]),
            }
        )
    return table


def markdown(table: list[dict[str, Any]], *, source: str, hours: int) -> str:
    def money(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    lines = [
        f"Source: {source}. {hours} hour(s) of metering; prices from cdk.json (`cost_per_instance_hour`).",
        "",
        "| route | variant | tenant | requests | model ms / request | metered USD | attributed USD | "
        "metered USD / 1k | attributed USD / 1k |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in table:
        ms = row["model_ms_per_request"]
        lines.append(
            f"| {row['route']} | {row['variant']} | {row['tenant']} | {row['requests']:,} | "
            f"{'' if ms is None else f'{ms:.1f}'} | {money(row['metered_usd'])} | {money(row['attributed_usd'])} | "
            f"{money(row['metered_per_1k'])} | {money(row['attributed_per_1k'])} |"
        )
    total = sum(row["attributed_usd"] for row in table)
    lines += [
        "",
        f"The attributed column adds up to the instance bill of the hours metered: {total:.4f} USD.",
    ]
    return "\n".join(lines) + "\n"


def plot(table: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    served = [row for row in table if row["requests"]]
    labels = [f"{r['tenant']}\n{r['route']}/{r['variant']}" for r in served]
    positions = range(len(served))
    figure, axis = plt.subplots(figsize=(8, 4.5))
    width = 0.38
    axis.bar(
        [p - width / 2 for p in positions],
        [r["metered_per_1k"] for r in served],
        width,
        label="metered (request path)",
    )
    axis.bar(
        [p + width / 2 for p in positions],
        [r["attributed_per_1k"] for r in served],
        width,
        label="attributed (share of the bill)",
    )
    axis.set_xticks(list(positions), labels)
    axis.set_ylabel("USD per 1,000 requests")
    axis.set_title("Cost per 1,000 requests by tenant, route and variant")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1200, help="requests in the metering run")
    parser.add_argument("--from-platform", action="store_true", help="read a running `make run`'s cost table")
    args = parser.parse_args(argv)
    config = load_config()
    prices = PriceList.from_config(config)
    if args.from_platform:
        import boto3

        from sluice_local.outputs import read_outputs

        outputs = read_outputs()
        client = boto3.client(
            "dynamodb", endpoint_url=outputs["DynamoDbEndpointUrl"], region_name=outputs["Region"]
        )
        rows = DynamoUsageCounters(client, outputs["CostTableName"]).scan_prefix("meter#hour#")
        source = "the running local platform's cost table"
    else:
        import boto3
        from moto import mock_aws

        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            client.create_table(
                TableName="cost",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            counters = DynamoUsageCounters(client, "cost")
            metering_run(config, counters, requests=args.requests)
            rows = counters.scan_prefix("meter#hour#")
        source = f"a metering run of {args.requests:,} real inferences of the intent model on this machine"
    if not rows:
        print("No metering data.", file=sys.stderr)
        return 1
    attributed = attribute(rows, prices)
    table = summarize(attributed)
    hours = len({row["hour"] for row in rows})
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = markdown(table, source=source, hours=hours)
    (RESULTS / "cost_report.md").write_text(report)
    plot(table, RESULTS / "cost_report.png")
    print(report)
    print(
        f"idle rows ({IDLE}) are always-on hours nobody used. Written: bench/results/cost_report.md, cost_report.png"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
