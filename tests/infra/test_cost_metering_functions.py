"""Every function that reserves, settles or meters has the cost table and policy, and may write
the table: the api and worker, and now ingest (uploads) and the two async finishers."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

METERING = {"sluice-api", "sluice-worker", "sluice-ingest", "sluice-async_result", "sluice-sweeper"}


def _functions(template: Template) -> dict[str, dict[str, Any]]:
    found = {}
    for function in template.find_resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" in variables:
            found[variables["POWERTOOLS_SERVICE_NAME"]] = function
    return found


def _actions_on(template: Template, role: str, table: str) -> set[str]:
    actions: set[str] = set()
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if table in json.dumps(statement.get("Resource")):
                granted = statement["Action"]
                actions |= {granted} if isinstance(granted, str) else set(granted)
    return actions


def test_the_functions_that_hold_budgets_have_the_cost_table_and_may_update_it(
    cost_template: Template,
) -> None:
    functions = _functions(cost_template)
    table = functions["sluice-api"]["Properties"]["Environment"]["Variables"]["COST_TABLE_NAME"]["Ref"]
    assert cost_template.to_json()["Resources"][table]["Type"] == "AWS::DynamoDB::Table"
    for name in METERING:
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        # Given the function's environment, Then it names the cost table and carries the policy
        assert variables["COST_TABLE_NAME"] == {"Ref": table}, name
        assert "prices" in json.dumps(variables["COST_POLICY"]), name  # a join: it holds key ids
        # And its role may reserve, settle and meter (UpdateItem) and mark jobs accounted (PutItem)
        role = functions[name]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert {"dynamodb:UpdateItem", "dynamodb:PutItem"} <= _actions_on(cost_template, role, table), name
