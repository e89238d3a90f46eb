"""Metering: counters per tenant, route, variant and model version; EMF; attribution to the bill."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_meter import DynamoUsageCounters
from sluice.adapters.emf_metrics import EmfMeterMetrics
from sluice.config import DeploymentConfig
from sluice.cost.attribution import IDLE, attribute
from sluice.cost.metering import InferenceUsage, Meter
from sluice.cost.pricing import PriceList
from tests.functional.cost_harness import REGION, create_cost_table

CONFIG = DeploymentConfig.model_validate(
    {
        "routes": [
            {
                "name": "intent",
                "endpoint": {
                    "variants": [
                        {
                            "name": "primary",
                            "weight": 90,
                            "model_version": "v1",
                            "cost_per_instance_hour": 1.4,
                            "model_data_url": "s3://m/v1.tar.gz",
                        },
                        {
                            "name": "small",
                            "weight": 10,
                            "model_version": "v2",
                            "cost_per_instance_hour": 0.7,
                            "instance_type": "ml.c5.xlarge",
                            "model_data_url": "s3://m/v2.tar.gz",
                        },
                    ]
                },
            },
            {
                "name": "chat",
                "endpoint": {
                    "mode": "async",
                    "variant_name": "llm",
                    "cost_per_instance_hour": 1.5,
                    "wire_format": "hf-tgi",
                    "accepts_batches": False,
                    "async_inference": {"max_concurrent_invocations_per_instance": 4, "max_capacity": 2},
                },
                "required_text_fields": ["inputs"],
            },
        ],
        "api": {"tenants": ["acme", "globex"]},
        "cost": {"expected_utilization": 0.5},
    }
)
AT = datetime(2026, 12, 1, 23, 5, tzinfo=UTC)


def _usage(
    tenant: str, variant: str = "primary", route: str = "intent", model_ms: float = 100, **kw: object
) -> InferenceUsage:
    return InferenceUsage(
        tenant=tenant,
        route=route,
        variant=variant,
        model_version="v1" if variant == "primary" else "v2",
        model_ms=model_ms,
        bytes_in=200,
        bytes_out=300,
        at=AT,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def counters() -> DynamoUsageCounters:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        yield DynamoUsageCounters(client, create_cost_table(client))


def test_a_micro_batch_is_counted_per_tenant_route_variant_and_period(counters: DynamoUsageCounters) -> None:
    # Given a batch of 3 inferences of acme (2 on primary, 1 on small) and 1 of globex
    meter = Meter(counters, PriceList.from_config(CONFIG))
    batch = [_usage("acme"), _usage("acme", model_ms=300), _usage("acme", "small"), _usage("globex")]

    # When the worker meters the batch
    total = meter.record_all(batch)

    # Then each group has one hourly counter row with the batch's sums
    rows = {(r["tenant"], r["variant"]): r for r in counters.scan_prefix("meter#hour#2026-12-01T23#")}
    assert set(rows) == {("acme", "primary"), ("acme", "small"), ("globex", "primary")}
    assert rows[("acme", "primary")]["requests"] == 2
    assert rows[("acme", "primary")]["model_ms"] == 400
    assert rows[("acme", "primary")]["bytes_in"] == 400
    assert rows[("acme", "primary")]["bytes_out"] == 600
    assert rows[("acme", "primary")]["model_version"] == "v1"
    # And 400 ms at 1.40 USD/h at 50 % utilization costs 311 micro-dollars
    assert rows[("acme", "primary")]["cost_micros"] == round(1.4e6 * 0.4 / 3600 / 0.5)
    # And the tenant's day and month counters hold the tenant's totals
    periods = {r["period"]: r for r in counters.scan_prefix("meter#tenant#acme#")}
    assert set(periods) == {"2026-12", "2026-12-01"}
    assert periods["2026-12"]["requests"] == periods["2026-12-01"]["requests"] == 3
    assert periods["2026-12"]["model_ms"] == 500
    assert total == sum(r["cost_micros"] for r in rows.values())


def test_metering_again_adds_to_the_counters(counters: DynamoUsageCounters) -> None:
    meter = Meter(counters, PriceList.from_config(CONFIG))
    # Given a tenant metered once
    meter.record(_usage("acme"))
    # When metered again (another function instance, the same counters)
    Meter(counters, PriceList.from_config(CONFIG)).record(_usage("acme", model_ms=50))
    # Then the counters add
    (row,) = counters.scan_prefix("meter#hour#2026-12-01T23#acme#intent#primary")
    assert row["requests"] == 2
    assert row["model_ms"] == 150


def test_tokens_are_counted_for_generative_routes(counters: DynamoUsageCounters) -> None:
    Meter(counters, PriceList.from_config(CONFIG)).record(
        _usage("acme", "llm", route="chat", tokens_in=12, tokens_out=80)
    )
    (row,) = counters.scan_prefix("meter#hour#2026-12-01T23#acme#chat#llm")
    assert (row["tokens_in"], row["tokens_out"]) == (12, 80)


def test_emf_metrics_carry_ids_and_amounts_per_group_and_per_tenant(
    counters: DynamoUsageCounters, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the EMF sink
    meter = Meter(counters, PriceList.from_config(CONFIG), EmfMeterMetrics(namespace="SluiceTest"))
    # When one inference is metered
    meter.record(_usage("acme"))
    # Then one EMF document, by tenant, route and variant, and by tenant alone (the spend alarm's)
    (document,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert sorted(map(sorted, directive["Dimensions"])) == [
        ["route", "service", "tenant", "variant"],
        ["tenant"],
    ]
    assert {m["Name"] for m in directive["Metrics"]} == {
        "Requests",
        "ModelTimeMs",
        "BytesIn",
        "BytesOut",
        "EstimatedCostUSD",
    }
    assert document["ModelTimeMs"] == [100.0]
    assert document["BytesIn"] == [200.0]
    assert (document["service"], document["tenant"], document["variant"]) == ("sluice", "acme", "primary")


def test_attribution_adds_up_to_the_hours_bill(counters: DynamoUsageCounters) -> None:
    # Given an hour in which acme used 3x globex's model time on the primary variant
    meter = Meter(counters, PriceList.from_config(CONFIG))
    meter.record_all([_usage("acme", model_ms=300), _usage("globex", model_ms=100), _usage("acme", "small")])

    # When the hour's bill is attributed
    rows = attribute(counters.scan_prefix("meter#hour#"), PriceList.from_config(CONFIG))

    # Then the primary variant's one instance-hour (1.40 USD) splits 3:1
    primary = {r.tenant: r.attributed_usd for r in rows if r.variant == "primary"}
    assert primary["acme"] == pytest.approx(1.05)
    assert primary["globex"] == pytest.approx(0.35)
    # And every variant's rows add up to its instance-hours times its price
    assert sum(r.attributed_usd for r in rows if r.variant == "small") == pytest.approx(0.7)
    assert all(r.tenant != IDLE for r in rows)  # one hour, used on both variants


def test_an_async_endpoint_is_charged_only_while_it_runs(counters: DynamoUsageCounters) -> None:
    # Given 30 minutes of model time on the async chat route (4 at once per instance) at 23:00
    meter = Meter(counters, PriceList.from_config(CONFIG))
    meter.record(_usage("acme", "llm", route="chat", model_ms=30 * 60_000))
    # And an hour with real-time traffic at 01:00 the next day, the chat endpoint idle since
    meter.record(
        InferenceUsage(
            tenant="acme",
            route="intent",
            variant="primary",
            model_version="v1",
            model_ms=10,
            bytes_in=1,
            bytes_out=1,
            at=datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
        )
    )

    # When attributed
    rows = attribute(counters.scan_prefix("meter#hour#"), PriceList.from_config(CONFIG))

    # Then chat costs 7.5 instance-minutes of busy time plus the 10-minute cooldown, and no idle hours
    chat = [r for r in rows if r.route == "chat"]
    assert sum(r.attributed_usd for r in chat) == pytest.approx(1.5 * (0.5 / 4 + 10 / 60))
    assert {r.hour for r in chat} == {"2026-12-01T23"}
    # And the always-on real-time variants bill the hour between them as idle
    idle = [r for r in rows if r.tenant == IDLE and r.hour == "2026-12-02T00"]
    assert {r.variant for r in idle} == {"primary", "small"}
