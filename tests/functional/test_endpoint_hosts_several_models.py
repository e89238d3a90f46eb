"""The local endpoint hosts one model per route and variant, each from its own model dir.

Two routes of different kinds (a transformers classifier, a custom PyTorch handler) and, on one
route, two versions of one model side by side: each answers with its own model's version.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sluice.config import DeploymentConfig
from sluice_local.routing import endpoint_spec
from sluice_local.variant_endpoint import Spec, build_router

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "tests" / "byo_models" / "build.py"


def _build(kind: str, dest: Path) -> str:
    subprocess.run([sys.executable, str(BUILD), kind, str(dest)], check=True, capture_output=True)  # noqa: S603
    return str(dest.relative_to(ROOT))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # Inside the checkout: a route's model path is relative to the repository root.
    base = Path(tmp_path_factory.mktemp("models", numbered=True))
    work = ROOT / ".sluice" / "test-models" / base.name
    built = {
        "classifier": _build("text-classification", work / "classifier"),
        "v1": _build("pytorch", work / "v1"),
    }
    # A second version of the custom model: the same handler, other weights.
    v2 = work / "v2"
    _build("pytorch", v2)
    import torch

    torch.manual_seed(1)
    torch.save(torch.nn.Linear(64, 2).state_dict(), v2 / "weights.pt")
    built["v2"] = str(v2.relative_to(ROOT))
    return built


def test_two_models_and_two_versions_of_one_serve_side_by_side(
    models: dict[str, str], tmp_path: Path
) -> None:
    # Given a config with a transformers route and a custom route with two variants (v1, v2)
    config = DeploymentConfig.model_validate(
        {
            "routes": [
                {
                    "name": "sentiment",
                    "endpoint": {
                        "model": {
                            "kind": "transformers",
                            "path": models["classifier"],
                            "task": "text-classification",
                        }
                    },
                },
                {
                    "name": "custom",
                    "endpoint": {
                        "variants": [
                            {"name": "v1", "weight": 90, "model": {"kind": "pytorch", "path": models["v1"]}},
                            {"name": "v2", "weight": 10, "model": {"kind": "pytorch", "path": models["v2"]}},
                        ]
                    },
                },
            ]
        }
    )
    spec = Spec.model_validate_json(endpoint_spec(config, model_dir=tmp_path, max_batch_size=None))
    body = json.dumps({"instances": [{"text": "great service thank you"}]})

    # When the endpoint serves them all in one process
    async def ask() -> dict[str, dict[str, object]]:
        app = build_router(spec)
        answers = {}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://endpoint") as client:
                for name, variant in (
                    ("sluice-local-sentiment", None),
                    ("sluice-local-custom", "v1"),
                    ("sluice-local-custom", "v2"),
                ):
                    headers = {"content-type": "application/json"}
                    if variant:
                        headers["x-amzn-sagemaker-target-variant"] = variant
                    answer = await client.post(
                        f"/endpoints/{name}/invocations", content=body, headers=headers
                    )
                    assert answer.status_code == 200, answer.text
                    answers[f"{name}/{variant}"] = answer.json()
        return answers

    import asyncio

    answers = asyncio.run(ask())

    # Then each answers from its own model
    sentiment = answers["sluice-local-sentiment/None"]
    assert str(sentiment["model_version"]).startswith("transformers-")
    assert {label["label"] for label in sentiment["predictions"][0]["labels"]} == {"negative", "positive"}  # type: ignore[index]
    v1, v2 = answers["sluice-local-custom/v1"], answers["sluice-local-custom/v2"]
    assert v1["predictions"] != v2["predictions"]  # other weights, other scores
