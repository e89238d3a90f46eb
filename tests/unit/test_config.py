"""The typed deployment config: the same model validates cdk.json at synth and the local platform."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from sluice.config import DeploymentConfig, RouteConfig

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def test_the_committed_cdk_json_is_a_valid_deployment_config() -> None:
    context = json.loads(CDK_JSON.read_text())["context"]["sluice"]

    config = DeploymentConfig.model_validate(context)

    assert [route.name for route in config.routes] == ["intent", "embed", "chat"]
    # two different models: the trained intent classifier and a packed embeddings model
    assert config.route("embed").endpoint.model is not None
    assert config.route("embed").endpoint.model.task == "feature-extraction"
    assert config.route("intent").endpoint.instance_type == "ml.g5.xlarge"
    # dev runs one GPU fleet per route: a canary exists only with a second model version
    assert [v.name for v in config.route("intent").endpoint.production_variants] == ["primary"]
    assert config.route("chat").endpoint.mode == "async"


def test_a_canary_needs_a_second_model_version() -> None:
    # Given two variants of one endpoint that would host the same packaged artifact
    same = {"variants": [{"name": "primary", "weight": 90}, {"name": "canary", "weight": 10}]}
    # When the config is read, Then it is refused: two GPU fleets of one model test nothing
    with pytest.raises(ValidationError, match="same model artifact"):
        RouteConfig.model_validate({"name": "intent", "endpoint": same})
    # And a canary with its own model version is accepted
    canary = {**same["variants"][1], "model_data_url": "s3://models/intent-v2/model.tar.gz"}
    RouteConfig.model_validate({"name": "intent", "endpoint": {"variants": [same["variants"][0], canary]}})


def test_queue_visibility_timeout_is_six_times_the_worker_timeout() -> None:
    config = DeploymentConfig.model_validate({"worker_function": {"timeout_seconds": 45}})
    assert config.worker_visibility_timeout_seconds == 270


@pytest.mark.parametrize(
    "context",
    [
        {"routes": []},
        {"routes": [{"name": "intent"}, {"name": "intent"}]},
        {"routes": [{"name": "Intent!"}]},
        {"routes": [{"name": "intent", "endpoint": {"instance_type": "g5.xlarge"}}]},
        {"routes": [{"name": "intent", "time_budget_ms": 60_000}]},
        {"routes": [{"name": "intent", "pii_allow": ["email"]}]},
        {"stage": "qa"},
        {"max_request_bytes": 1024, "routes": [{"name": "intent", "max_input_bytes": 4096}]},
        {"unknown_setting": True},
    ],
)
def test_invalid_config_is_rejected(context: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DeploymentConfig.model_validate(context)


def test_a_sync_route_whose_largest_input_cannot_be_redacted_and_served_in_time_is_rejected() -> None:
    # Given a 1 MB input limit and a 20 s endpoint budget on a 128 MB API function (1/14 vCPU)
    context = {
        "max_request_bytes": 2 * 1024 * 1024,
        "api_function": {"memory_mb": 128, "timeout_seconds": 29},
        "routes": [{"name": "intent", "max_input_bytes": 1024 * 1024, "time_budget_ms": 20_000}],
    }

    # Then synth refuses it: the PII budget for that input alone would outlast the timeout
    with pytest.raises(ValidationError, match="redacting"):
        DeploymentConfig.model_validate(context)


def test_the_deployed_intent_route_redacts_its_largest_input_within_the_api_timeout() -> None:
    # The committed config passes the same check: 256 KB of PII budget on a 1,024 MB function.
    config = DeploymentConfig.model_validate(json.loads(CDK_JSON.read_text())["context"]["sluice"])

    assert config.route("intent").max_input_bytes == 256 * 1024
    assert config.api_function.memory_mb == 1024


def test_route_defaults_protect_the_endpoint() -> None:
    route = RouteConfig(name="intent")
    assert route.max_input_bytes == 256 * 1024
    assert route.required_text_fields == ("text",)
    assert route.pii_allow == ()


def test_a_circuit_that_stays_open_past_the_queues_visibility_timeout_is_rejected() -> None:
    # Every redelivery of a refused job would meet the same open circuit and burn a receive.
    with pytest.raises(ValidationError, match="open_seconds"):
        DeploymentConfig.model_validate(
            {"worker_function": {"timeout_seconds": 5}, "breaker": {"open_seconds": 30}}
        )
    assert DeploymentConfig.model_validate(
        {"worker_function": {"timeout_seconds": 5}, "breaker": {"open_seconds": 5}}
    )
