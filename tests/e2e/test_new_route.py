"""`make new-route`: each kind of model becomes a route with one command and answers through the API.

The routes are written into a copy of cdk.json (the checkout's own is left alone); the platform
then serves all three beside the default routes, and each request is redacted and routed first.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from sluice_local.byo import new_route
from sluice_local.launch import platform_process
from tests.byo_models.fixtures import ROOT, build_example

TEXT = "Hi, I am John Smith (john.smith@example.com): great service thank you"


def test_each_kind_becomes_a_route_that_answers_through_the_api(tmp_path: Path) -> None:
    # Given a copy of cdk.json and one example model of each kind
    cdk_json = tmp_path / "cdk.json"
    shutil.copy2(ROOT / "cdk.json", cdk_json)
    kinds = {
        "hf-sentiment": build_example("text-classification"),
        "tfidf-sentiment": build_example("sklearn"),
        "custom-sentiment": build_example("pytorch"),
    }
    # When new-route adds each (validate, pack, pre-deploy check, cdk.json)
    printed: list[str] = []
    versions = {
        name: new_route(
            name, ROOT / path, kind=None, task=None, cdk_json=cdk_json, smoke=False, echo=printed.append
        )["model_version"]
        for name, path in kinds.items()
    }
    routes = json.loads(cdk_json.read_text())["context"]["sluice"]["routes"]
    added = [route for route in routes if route["name"] in kinds]
    assert [route["endpoint"]["model"]["kind"] for route in added] == ["transformers", "sklearn", "pytorch"]
    assert any("pre-deploy check" in line for line in printed)

    # Then the platform serves each through the API, after redaction and routing
    with (
        platform_process("--config-override", json.dumps({"routes": added})) as outputs,
        httpx.Client(
            base_url=outputs["ApiUrl"], timeout=60, headers={"x-api-key": outputs["ApiKey"]}
        ) as http,
    ):
        for name in kinds:
            answer = http.post(
                "/v1/inferences", json={"route": name, "input": {"text": TEXT}, "mode": "sync"}
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["route"] == name
            assert body["variant"] == "primary"
            assert body["pii"].get("PERSON") == 1  # the name and address never reached the model
            assert body["pii"].get("EMAIL_ADDRESS") == 1
            if name != "custom-sentiment":  # the custom handler reports its own version label
                assert body["model_version"] == versions[name]
            output = body["output"]
            assert output.get("labels") or output.get("label") in {"negative", "positive"}


def test_new_route_with_its_smoke_request_prints_what_the_model_answered(tmp_path: Path) -> None:
    cdk_json = tmp_path / "cdk.json"
    shutil.copy2(ROOT / "cdk.json", cdk_json)
    printed: list[str] = []
    answer = new_route(
        "tfidf", ROOT / build_example("sklearn"), kind="sklearn", task=None, cdk_json=cdk_json, sample=TEXT,
        echo=printed.append,
    )  # fmt: skip
    assert answer["route"] == "tfidf"
    assert answer["latency_ms"] > 0
    assert any(line.strip().startswith("the model answered:") for line in printed)
    assert any("EMAIL_ADDRESS" in line for line in printed if "redacted" in line)
