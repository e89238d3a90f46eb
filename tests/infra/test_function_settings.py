"""Each function's environment in the template is exactly what its settings model reads.

The model (`sluice.runtime.<function>.Settings`) is the single source: the stack renders it,
the handler validates it at init. These tests fail when the two drift apart, and pin the
bugs the drift once caused (issue 11).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from sluice.routing.table import RouteTable
from sluice.runtime import (
    api,
    async_result,
    audit,
    budget,
    deploy,
    drift_monitor,
    feedback_export,
    ingest,
    review_intake,
    reviews,
    sweeper,
    worker,
)
from sluice.runtime.settings import FunctionSettings
from tests.infra.conftest import make_app

SETTINGS: dict[str, type[FunctionSettings]] = {
    "sluice-api": api.Settings,
    "sluice-worker": worker.Settings,
    "sluice-ingest": ingest.Settings,
    "sluice-async_result": async_result.Settings,
    "sluice-sweeper": sweeper.Settings,
    "sluice-drift_monitor": drift_monitor.Settings,
    "sluice-budget": budget.Settings,
    "sluice-feedback_export": feedback_export.Settings,
    "sluice-deploy": deploy.Settings,
    "sluice-audit": audit.Settings,
    "sluice-reviews": reviews.Settings,
    "sluice-review_intake": review_intake.Settings,
}


def _environments(template: Template) -> dict[str, dict[str, Any]]:
    """Service name to environment variables, for every Sluice function in the template."""
    environments = {}
    for function in template.find_resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" in variables:
            environments[variables["POWERTOOLS_SERVICE_NAME"]] = variables
    return environments


def _resolved(value: Any) -> str:
    """A CloudFormation value as the function would see it, each reference a placeholder."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_resolved(part) for part in parts)
    return "resolved-at-deploy"


def test_every_function_has_a_settings_model(template: Template) -> None:
    assert set(_environments(template)) == set(SETTINGS)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_a_functions_environment_is_exactly_its_settings_model(template: Template, service: str) -> None:
    # Given the function's variables as deployed
    variables = {name: _resolved(value) for name, value in _environments(template)[service].items()}

    # Then each is one its model reads, and together they validate as the handler's init will
    model = SETTINGS[service]
    assert set(variables) <= model.variables()
    settings = model.from_environment(variables)
    assert settings.environment().keys() == variables.keys()


def test_the_deployed_route_table_fallback_keeps_tenant_pins(tmp_path: Path) -> None:
    # Given a route whose tenant is pinned to a variant
    from infra.config import load_config
    from infra.stack import SluiceStack

    intent = {
        "name": "intent",
        "endpoint": {
            "instance_type": "ml.g5.xlarge",
            "variants": [
                {"name": "primary", "weight": 90, "model_version": "intent-v1"},
                {"name": "canary", "weight": 10, "model_version": "v2", "model_data_url": "s3://b/v2.tar.gz"},
            ],
        },
        "tenant_overrides": [{"tenant": "acme", "weights": {"canary": 1}}],
    }
    app = make_app(tmp_path, routes=[intent], api={"tenants": ["default", "acme"]})
    template = Template.from_stack(SluiceStack(app, "Pinned", config=load_config(app)))

    # When SSM cannot be read, every function falls back to its ROUTES variable
    for service, variables in _environments(template).items():
        if "ROUTES" not in variables:
            continue  # the drift monitor does not route
        if service == "sluice-budget":
            continue  # it routes nothing: it edits the live table's weights (ROUTE_TABLE_PARAMETER)
        table = RouteTable.model_validate_json(_resolved(variables["ROUTES"]))

        # Then the pin is there, keyed by the tenant's API key id as in the live table
        (override,) = table.routes["intent"].tenant_overrides
        assert override.weights == {"canary": 1}, service
        assert override.tenant == "resolved-at-deploy", service


def test_uploads_read_the_live_route_table(template: Template) -> None:
    # An operator's change to PII policy or limits in SSM reaches uploads too, not only the API.
    variables = _environments(template)["sluice-ingest"]
    assert "ROUTE_TABLE_PARAMETER" in variables
    ingest_policy = next(
        policy
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if "IngestFunction" in json.dumps(policy["Properties"]["Roles"])
    )
    statements = ingest_policy["Properties"]["PolicyDocument"]["Statement"]
    assert any("ssm:GetParameter" in statement["Action"] for statement in statements)
