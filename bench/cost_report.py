"""make cost-report: cost per 1,000 requests by route, variant and tenant, from metering data.

Two sources of metering data:
- default, a metering run: real inferences of the default intent model (model/inference.py,
  in process, as the endpoint hosts it) for three tenants with different traffic (short
  queries one at a time, long queries, uploaded files in batches of 16), and chat jobs on the
  async `chat` route answered by the local stand-in (local/sluice_local/standin_chat.py: not
  an LLM, there is none offline; its model time is the stand-in's), each metered by the same
  `sluice.cost.Meter` the platform uses, with tokens counted as the platform counts them
  (`sluice.cost.tokens`: the stand-in reports no usage, so they are estimated), into the cost
  table on in-process moto;
- `--from-platform`: the cost table of a running `make run` (.sluice/outputs.json).

The report attributes each hour's instance bill (the variant's instance price from cdk.json)
by the measured share of model time (`sluice.cost.attribution`), so the tenants' figures add up
to the bill, and shows it next to the request path's estimate (model time over the expected
utilization). An async variant's bill is its sampled instance time (the `budget` function's
samples, `meter#instances#...`) where there are samples, else the estimate from busy time; the
`instance time` column says which. Writes bench/results/cost_report.md and cost_report.png.
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
from sluice.cost.tokens import count_tokens  # noqa: E402

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
    chat_run(config, meter, texts, requests=max(1, requests // 10), hour=hour)


def chat_run(
    config: DeploymentConfig, meter: Meter, texts: list[str], *, requests: int, hour: datetime
) -> None:
    """Chat jobs as `async_result` meters them, answered by the local stand-in (not an LLM)."""
    from sluice_local import standin_chat

    route = config.route("chat")
    variant = route.endpoint.production_variants[0]
    model = standin_chat.model_fn("")
    for index in tqdm(range(requests), desc="chat (stand-in)", unit="job"):
        # Customer questions as prompts, three joined: a chat turn is longer than a query.
        prompt = " ".join(texts[(index * 3 + i) % len(texts)] for i in range(3))
        request = {"inputs": prompt, "parameters": {"max_new_tokens": 64}}
        started = time.perf_counter()
        (answer,) = standin_chat.predict_fn(
            standin_chat.input_fn(json.dumps(request), "application/json"), model
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        tokens = count_tokens(route.endpoint.wire_format, request, answer)
        meter.record(
            InferenceUsage(
                tenant="default",
                route=route.name,
                variant=variant.name,
                model_version=standin_chat.MODEL_VERSION,
                model_ms=elapsed_ms,
                bytes_in=len(json.dumps(request, separators=(",", ":")).encode()),
                bytes_out=len(json.dumps(answer, separators=(",", ":")).encode()),
                tokens_in=tokens.tokens_in,
                tokens_out=tokens.tokens_out,
                tokens_estimated=tokens.estimated,
                at=hour,
            )
        )


def _per_1k(usd: float, requests: float) -> float | None:
    return usd / requests * 1000 if requests else None


def summarize(rows: list[AttributedUsage]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    how: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for row in rows:
        group = groups[(row.route, row.variant, row.tenant)]
        group["requests"] += row.requests
        group["model_ms"] += row.model_ms
        group["metered_usd"] += row.metered_usd
        group["attributed_usd"] += row.attributed_usd
        group["tokens_in"] += row.tokens_in
        group["tokens_out"] += row.tokens_out
        group["tokens_estimated"] += row.tokens_estimated
        how[(row.route, row.variant, row.tenant)].add(row.instance_time)
    table = []
    for (route, variant, tenant), g in sorted(groups.items()):
        tokens = g["tokens_in"] + g["tokens_out"]
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
                "tokens_in_per_request": g["tokens_in"] / g["requests"] if tokens and g["requests"] else None,
                "tokens_out_per_request": g["tokens_out"] / g["requests"]
                if tokens and g["requests"]
                else None,
                "tokens_estimated": int(g["tokens_estimated"]),
                "instance_time": "+".join(sorted(how[(route, variant, tenant)])),
            }
        )
    return table


def markdown(table: list[dict[str, Any]], *, source: str, hours: int) -> str:
    def money(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    lines = [
        f"Source: {source}. {hours} hour(s) of metering; prices from cdk.json (`cost_per_instance_hour`).",
        "",
        "| route | variant | tenant | requests | model ms / request | tokens in / out per request | "
        "metered USD | attributed USD | metered USD / 1k | attributed USD / 1k | instance time |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in table:
        ms = row["model_ms_per_request"]
        tokens = ""
        if row["tokens_in_per_request"] is not None:
            tokens = f"{row['tokens_in_per_request']:.1f} / {row['tokens_out_per_request']:.1f}"
            if row["tokens_estimated"]:
                tokens += f" (estimated for {row['tokens_estimated']:,})"
        lines.append(
            f"| {row['route']} | {row['variant']} | {row['tenant']} | {row['requests']:,} | "
            f"{'' if ms is None else f'{ms:.1f}'} | {tokens} | {money(row['metered_usd'])} | "
            f"{money(row['attributed_usd'])} | {money(row['metered_per_1k'])} | "
            f"{money(row['attributed_per_1k'])} | {row['instance_time']} |"
        )
    total = sum(row["attributed_usd"] for row in table)
    lines += [
        "",
        f"The attributed column adds up to the instance bill of the hours metered: {total:.4f} USD.",
        "Instance time: always-on (real-time: every hour billed), sampled (async: the budget "
        "function's instance samples), estimated (async hours without samples: busy time over "
        "concurrency plus the scale-in cooldown). Tokens: reported by the model, or estimated at "
        "4 UTF-8 bytes a token where it reports none (sluice.cost.tokens).",
    ]
    return "\n".join(lines) + "\n"


def plot(table: list[dict[str, Any]], path: Path, *, source_is_run: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    served = [row for row in table if row["requests"]]

    def label(row: dict[str, Any]) -> str:
        # The chat route here is the local stand-in, not an LLM: say so where the bar is.
        standin = "\n(stand-in)" if row["route"] == "chat" and source_is_run else ""
        return f"{row['tenant']}\n{row['route']}/{row['variant']}{standin}"

    labels = [label(r) for r in served]
    positions = range(len(served))
    generative = [row for row in served if row["tokens_in_per_request"] is not None]
    figure, (axis, tokens_axis) = plt.subplots(
        1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [max(1, len(served)), max(2, len(generative))]}
    )
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
    token_positions = range(len(generative))
    tokens_axis.bar(
        [p - width / 2 for p in token_positions],
        [r["tokens_in_per_request"] for r in generative],
        width,
        label="input tokens",
    )
    tokens_axis.bar(
        [p + width / 2 for p in token_positions],
        [r["tokens_out_per_request"] for r in generative],
        width,
        label="output tokens",
    )
    tokens_axis.set_xticks(list(token_positions), [label(r) for r in generative])
    tokens_axis.set_ylabel("tokens per request")
    estimated = any(r["tokens_estimated"] for r in generative)
    tokens_axis.set_title(
        "Tokens, generative routes" + ("\n(estimated: 4 bytes a token)" if estimated else "")
    )
    tokens_axis.set_ylim(0, 1.3 * max([r["tokens_in_per_request"] for r in generative] + [1]))
    tokens_axis.legend(loc="upper right")
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
        counters = DynamoUsageCounters(client, outputs["CostTableName"])
        rows = counters.scan_prefix("meter#hour#")
        instance_rows = counters.scan_prefix("meter#instances#")
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
            instance_rows = counters.scan_prefix("meter#instances#")  # none: no sampler runs here
        source = (
            f"a metering run of {args.requests:,} real inferences of the intent model on this machine, "
            f"and {max(1, args.requests // 10):,} chat jobs answered by the local stand-in (not an LLM)"
        )
    if not rows:
        print("No metering data.", file=sys.stderr)
        return 1
    attributed = attribute(rows, prices, instance_rows)
    table = summarize(attributed)
    hours = len({row["hour"] for row in rows})
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = markdown(table, source=source, hours=hours)
    (RESULTS / "cost_report.md").write_text(report)
    plot(table, RESULTS / "cost_report.png", source_is_run=not args.from_platform)
    print(report)
    print(
        f"idle rows ({IDLE}) are always-on hours nobody used. Written: bench/results/cost_report.md, cost_report.png"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
