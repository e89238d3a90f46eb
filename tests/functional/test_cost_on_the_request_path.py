"""Budgets on the request path: reserve before the model, settle after, 429 past the hard limit,
a warning header past the soft one, nothing charged for what was not served."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from sluice.adapters.dynamodb_cost_actions import DynamoJobAdmission
from sluice.adapters.dynamodb_usage import DynamoUsageLedger
from sluice.config import DeploymentConfig, EndpointConfig, RouteConfig, VariantConfig
from sluice.cost.models import Period
from sluice.cost.pricing import PriceList
from sluice.errors import EndpointUnavailable
from sluice.runtime import api as api_runtime
from sluice.runtime import worker as worker_runtime
from sluice.serving.api import BUDGET_WARNING_HEADER, build_app
from sluice_local.provision import function_settings
from sluice_local.runtime import LocalContext
from tests.functional.conftest import DEFAULT_CONFIG, REGION, Platform, start_platform
from tests.functional.cost_harness import create_cost_table
from tests.sample_events import api_event

TENANT = "tenant-acme"  # the sample events' API key id
# 3.60 USD an instance hour on every route: one reserved model second is 1,000 micro-dollars.
_PRICED = tuple(
    route.model_copy(update={"endpoint": route.endpoint.model_copy(update={"cost_per_instance_hour": 3.6})})
    for route in DEFAULT_CONFIG.routes
)
CONFIG = DEFAULT_CONFIG.model_copy(
    update={
        "routes": _PRICED,
        "cost": DEFAULT_CONFIG.cost.model_validate(
            {
                "budgets": {},
                "default_budget": {"monthly_requests": 5, "soft_limit_ratio": 0.6},
                "expected_utilization": 1.0,
            }
        ),
    }
)


@pytest.fixture
def metered() -> Iterator[tuple[Platform, Any, str]]:
    with _metered(CONFIG) as running:
        yield running


@contextmanager
def _metered(config: DeploymentConfig) -> Iterator[tuple[Platform, Any, str]]:
    """A platform for `config` whose api and worker keep budgets and meter usage in a cost table."""
    key_file = Path(tempfile.mkdtemp()) / "pii.key"
    with start_platform(config, key_file=key_file) as platform:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = create_cost_table(dynamodb)
        settings = function_settings(config, platform.resources).api.model_copy(
            update={
                "pii_key_file": str(key_file),
                "cost_table": table,
                "cost_policy": PriceList.from_config(config).policy(),
            }
        )
        # The settings survive their rendering, as the stack and the local platform render them.
        settings = api_runtime.Settings.from_environment(settings.environment())
        cost = {"cost_table": table, "cost_policy": PriceList.from_config(config).policy()}
        worker_settings = function_settings(config, platform.resources).worker.model_copy(update=cost)
        platform.worker = worker_runtime.build(
            worker_runtime.Settings.from_environment(worker_settings.environment()),
            clients=lambda name: boto3.client(name, region_name=REGION),
            endpoint=platform.endpoint,
        )
        app = build_app(
            api_runtime.build(
                settings,
                clients=lambda name: boto3.client(name, region_name=REGION),
                endpoint=platform.endpoint,
            )
        )
        yield platform, app, table


def _call(app: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = app.resolve(event, LocalContext(function_name="api", timeout_seconds=29))
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(values)
    return response["statusCode"], json.loads(response["body"] or "null"), headers


def _sync() -> dict[str, Any]:
    return api_event("post_inference_sync")


def test_requests_past_the_quota_are_429_with_the_reset_and_the_soft_limit_warns(
    metered: tuple[Platform, Any, str],
) -> None:
    platform, app, table = metered
    # Given a tenant with a monthly quota of 5 and its soft limit at 60 %
    # When 6 sync requests arrive
    answers = [_call(app, _sync()) for _ in range(6)]

    # Then 5 are served, the 3rd to 5th with the warning header, and the 6th is a 429
    assert [status for status, _, _ in answers] == [200] * 5 + [429]
    assert [BUDGET_WARNING_HEADER.lower() in headers for _, _, headers in answers[:5]] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert answers[2][2][BUDGET_WARNING_HEADER.lower()] == "monthly_requests"
    _, body, headers = answers[5]
    assert body["error"]["code"] == "QUOTA_EXCEEDED"
    assert int(headers["retry-after"]) >= 1
    # And the model was called 5 times, not 6
    assert len(platform.endpoint.calls) == 5
    # And the tenant's counters hold 5 requests and what their model time cost
    usage = DynamoUsageLedger(boto3.client("dynamodb", region_name=REGION), table).usage(TENANT, _period())
    assert usage.month_requests == 5
    metered_rows = boto3.client("dynamodb", region_name=REGION).scan(
        TableName=table,
        FilterExpression="begins_with(id, :m)",
        ExpressionAttributeValues={":m": {"S": "meter#hour#"}},
    )["Items"]
    assert sum(int(row["requests"]["N"]) for row in metered_rows) == 5


def test_a_request_the_model_does_not_serve_is_not_charged(metered: tuple[Platform, Any, str]) -> None:
    platform, app, table = metered
    ledger = DynamoUsageLedger(boto3.client("dynamodb", region_name=REGION), table)
    # Given invalid input, and then an endpoint that fails every call
    invalid = api_event(
        "post_inference_sync", body={"route": "intent", "input": {"text": ""}, "mode": "sync"}
    )
    assert _call(app, invalid)[0] == 400
    platform.endpoint.endpoint_failures = lambda endpoint, variant: EndpointUnavailable("down")

    # When a valid request cannot be served
    status, body, _ = _call(app, _sync())

    # Then it is a 503 and the tenant is charged nothing for either: the reservation was released
    assert (status, body["error"]["code"]) == (503, "ENDPOINT_UNAVAILABLE")
    usage = ledger.usage(TENANT, _period())
    assert (usage.month_requests, usage.spent_micros) == (0, 0)


def test_a_queued_job_is_settled_and_metered_by_the_worker(metered: tuple[Platform, Any, str]) -> None:
    platform, app, table = metered
    ledger = DynamoUsageLedger(boto3.client("dynamodb", region_name=REGION), table)
    # Given an accepted async job: its estimate (one model second at 3.60 USD/h) reserved
    status, _, _ = _call(app, api_event("post_inference_async"))
    assert status == 202
    reserved = ledger.usage(TENANT, _period())
    assert reserved.month_requests == 1
    assert reserved.spent_micros == PriceList.from_config(CONFIG).reservation_micros("intent")

    # When the worker serves it
    assert platform.drain() == 1

    # Then the reservation is replaced by the call's measured time, and the job is metered
    settled = ledger.usage(TENANT, _period())
    assert settled.month_requests == 1
    assert reserved.spent_micros == 1000
    assert settled.spent_micros < 1000  # the fake endpoint answers in well under a second
    rows = boto3.client("dynamodb", region_name=REGION).scan(
        TableName=table,
        FilterExpression="begins_with(id, :m)",
        ExpressionAttributeValues={":m": {"S": "meter#hour#"}},
    )["Items"]
    assert [(row["tenant"]["S"], int(row["requests"]["N"])) for row in rows] == [(TENANT, 1)]
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=table, Key={"id": {"S": f"usage#{TENANT}#{_period().month}"}}
    )["Item"]
    assert item["reserved_micros"] == {"N": "0"}


def test_a_route_a_cost_action_paused_takes_no_jobs_and_charges_nothing(
    metered: tuple[Platform, Any, str],
) -> None:
    platform, app, table = metered
    # Given the budget function's `stop_jobs` in force on the intent route
    DynamoJobAdmission(boto3.client("dynamodb", region_name=REGION), table).set_paused("intent", True)

    # When an async request and a sync request arrive for it
    status, body, headers = _call(app, api_event("post_inference_async"))
    sync_status, _, _ = _call(app, _sync())

    # Then the job is refused (503 ROUTE_PAUSED, Retry-After) and not charged; sync still answers
    assert (status, body["error"]["code"]) == (503, "ROUTE_PAUSED")
    # Five minutes: how often the spend behind the cost alarm is sampled (SAMPLE_EVERY_MINUTES).
    assert headers["retry-after"] == "300"
    assert sync_status == 200
    assert (
        DynamoUsageLedger(boto3.client("dynamodb", region_name=REGION), table)
        .usage(TENANT, _period())
        .month_requests
        == 1
    )
    assert platform.receive() == []


# Two variants ten times apart in price, and a generative route answering at once. The prices are
# absurd on purpose: the fake model answers in a fraction of a millisecond, and charges are whole
# micro-dollars, so at real prices every charge would round to nothing.
PRICED_VARIANTS = DeploymentConfig(
    routes=(
        RouteConfig(
            name="intent",
            endpoint=EndpointConfig(
                variants=(
                    VariantConfig(name="blue", weight=1.0, cost_per_instance_hour=3.6e6),
                    VariantConfig(
                        name="green",
                        weight=0.0,
                        cost_per_instance_hour=3.6e7,
                        model_data_url="s3://models/intent-green/model.tar.gz",
                    ),
                )
            ),
        ),
        RouteConfig(
            name="writer",
            endpoint=EndpointConfig(
                wire_format="hf-tgi", accepts_batches=False, cost_per_instance_hour=3.6e6
            ),
            required_text_fields=("inputs",),
        ),
    ),
    cost=CONFIG.cost.model_copy(
        update={"default_budget": CONFIG.cost.default_budget.model_copy(update={"monthly_requests": 100})}
    ),
)


def _meter_rows(table: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name=REGION).scan(
        TableName=table,
        FilterExpression="begins_with(id, :m)",
        ExpressionAttributeValues={":m": {"S": "meter#hour#"}},
    )["Items"]


def test_a_sync_answer_is_charged_and_metered_at_the_price_of_the_variant_that_served_it() -> None:
    with _metered(PRICED_VARIANTS) as (_, app, table):
        # Given a sync answer from the cheaper variant (the other one has no weight)
        status, answer, _ = _call(app, _sync())
        assert (status, answer["variant"]) == (200, "blue")

        # Then the budget is charged what the meter counted for that variant: the same price
        (row,) = _meter_rows(table)
        assert (row["variant"]["S"], int(row["requests"]["N"])) == ("blue", 1)
        charged = int(row["cost_micros"]["N"])
        assert charged > 0
        usage = DynamoUsageLedger(boto3.client("dynamodb", region_name=REGION), table).usage(
            TENANT, _period()
        )
        assert usage.spent_micros == charged


def test_a_sync_generation_is_metered_with_its_tokens() -> None:
    with _metered(PRICED_VARIANTS) as (_, app, table):
        # Given a sync generation (the fake model reports no token counts, so they are estimated)
        body = {"route": "writer", "input": {"inputs": "Write two lines about my card"}, "mode": "sync"}
        status, answer, _ = _call(app, api_event("post_inference_sync", body=body))
        assert status == 200

        # Then its meter counts the tokens in and out, marked as estimated, under the version
        # the answer named ("unknown" when the container reports none)
        (row,) = _meter_rows(table)
        assert row["route"]["S"] == "writer"
        assert row["model_version"]["S"] == (answer["model_version"] or "unknown")
        assert int(row["tokens_in"]["N"]) > 0
        assert int(row["tokens_out"]["N"]) > 0
        assert int(row["tokens_estimated"]["N"]) == 1


def _period() -> Period:
    from datetime import UTC, datetime

    return Period.at(datetime.now(UTC))
