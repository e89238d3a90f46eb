"""Infra tests synthesize the real stack, with cdk-nag on and asset bundling skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

ROOT = Path(__file__).resolve().parents[2]


def make_app(tmp_path: Path, **context_overrides: Any) -> App:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["sluice"] = {**context["sluice"], **context_overrides}
    if {"routes", "api"} & set(context_overrides) and "cost" not in context_overrides:
        # cdk.json's cost config names its routes and tenants; a test that replaces them tests
        # something else (a real config naming a route or tenant it lacks fails synth, as it should).
        context["sluice"].pop("cost", None)
    # Skipping bundling keeps tests offline and fast; `make synth` bundles for real.
    return App(context={**context, "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    from infra.config import load_config
    from infra.nag import enable_nag
    from infra.stack import SluiceStack

    app = make_app(tmp_path_factory.mktemp("cdk"))
    stack = SluiceStack(app, "Sluice", config=load_config(app))
    enable_nag(app)
    app.synth()  # raises if any cdk-nag finding is unacknowledged
    return Template.from_stack(stack)


# Cost governance (tests/infra/test_cost*.py): a stack with budgets, alarms and actions configured.
COST = {
    "budgets": {"default": {"monthly_budget_usd": 300, "monthly_requests": 100000}},
    "stack_monthly_budget_usd": 2500,
    "alarms": {
        "tenant_daily_spend_ratio": 0.1,
        "instance_hours_per_day": {"intent": 30, "chat": 12},
        "actions": {
            "tenant-spend:default": [{"kind": "lower_quota", "tenant": "default", "requests": 1000}],
            "instance-hours:intent": [{"kind": "cap_scaling", "route": "intent", "max_instances": 1}],
            "instance-hours:chat": [
                {"kind": "scale_to_zero", "route": "chat"},
                {"kind": "stop_jobs", "route": "chat"},
            ],
            "stack-budget": [{"kind": "stop_jobs", "route": "chat"}],
        },
    },
}


@pytest.fixture(scope="module")
def cost_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    from infra.config import load_config
    from infra.nag import enable_nag
    from infra.stack import SluiceStack

    app = make_app(tmp_path_factory.mktemp("cdk"), cost=COST)
    stack = SluiceStack(app, "Sluice", config=load_config(app))
    enable_nag(app)
    app.synth()  # an unacknowledged cdk-nag finding fails here
    return Template.from_stack(stack)
