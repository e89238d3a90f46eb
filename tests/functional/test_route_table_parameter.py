"""The live route table: weights change in SSM without a deploy; a bad value keeps the last good one."""

from __future__ import annotations

import json
from typing import Any

import boto3

from sluice.adapters.route_config import ParameterRouteSource
from sluice.config import DeploymentConfig, EndpointConfig, RouteConfig, VariantConfig
from sluice_local.provision import route_table
from tests.functional.conftest import Platform, start_platform

# A second variant is a second model version (sluice.config refuses two fleets of one artifact).
GREEN_MODEL = "s3://models/intent-green/model.tar.gz"

CONFIG = DeploymentConfig(
    routes=(
        RouteConfig(
            name="intent",
            endpoint=EndpointConfig(
                variants=(
                    VariantConfig(name="blue", weight=1),
                    VariantConfig(name="green", weight=0, model_data_url=GREEN_MODEL),
                )
            ),
        ),
    )
)


def _source(platform: Platform, ssm: Any) -> ParameterRouteSource:
    # max_age 0: every call reads SSM, so the test needs no clock games with Powertools' cache.
    return ParameterRouteSource(
        platform.resources.route_table_parameter,
        deployed=route_table(platform.config, platform.resources),
        max_age_seconds=0,
        client=ssm,
    )


def _put(platform: Platform, ssm: Any, value: str) -> None:
    ssm.put_parameter(
        Name=platform.resources.route_table_parameter, Value=value, Type="String", Overwrite=True
    )


def test_an_operator_shifts_weights_in_ssm_and_the_functions_follow_without_a_deploy() -> None:
    with start_platform(CONFIG) as platform:
        ssm = boto3.client("ssm", region_name="us-east-1")
        source = _source(platform, ssm)
        assert source.current().resolve("intent").weights_for("t") == {"blue": 1, "green": 0}

        # When an operator moves all traffic to green in the parameter
        table = json.loads(source.current().model_dump_json())
        table["routes"]["intent"]["variants"] = [
            {"name": "blue", "weight": 0, "model_version": ""},
            {"name": "green", "weight": 1, "model_version": ""},
        ]
        _put(platform, ssm, json.dumps(table))

        # Then the next read serves the new weights
        assert source.current().resolve("intent").weights_for("t") == {"blue": 0, "green": 1}


def test_an_invalid_table_in_ssm_keeps_the_last_good_one() -> None:
    with start_platform(CONFIG) as platform:
        ssm = boto3.client("ssm", region_name="us-east-1")
        source = _source(platform, ssm)
        good = source.current()

        # When the parameter gets a table whose route falls back to a route that does not exist
        broken = json.loads(good.model_dump_json())
        broken["routes"]["intent"]["fallback"] = ["nowhere"]
        _put(platform, ssm, json.dumps(broken))

        # Then the functions keep serving the last good table
        assert source.current() == good
