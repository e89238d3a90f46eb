"""A client generated from `/v1/openapi.json` (openapi-python-client) works against the platform.

The document is only as good as what a generated client can do with it: the x-api-key scheme
authenticates it, success bodies parse into their models, and errors into the error envelope
(before, every error response was dropped as undeclared).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.e2e.conftest import RunningPlatform

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def client_package(
    running_platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    work = tmp_path_factory.mktemp("generated")
    document = work / "openapi.json"
    document.write_text(running_platform.http.get("/v1/openapi.json").text)
    generated = subprocess.run(  # noqa: S603 - fixed argv
        [str(VENV_BIN / "openapi-python-client"), "generate", "--path", str(document), "--meta", "none",
         "--output-path", str(work / "sluice_client")],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=False,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    sys.path.insert(0, str(work))
    try:
        yield "sluice_client"
    finally:
        sys.path.remove(str(work))
        for name in [name for name in sys.modules if name.startswith("sluice_client")]:
            del sys.modules[name]


def _module(package: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package}.{name}")


def _client(package: str, running_platform: RunningPlatform) -> Any:
    return _module(package, "client").AuthenticatedClient(
        base_url=running_platform.outputs["ApiUrl"],
        token=running_platform.outputs["ApiKey"],
        prefix="",
        auth_header_name="x-api-key",
    )


def _generated(package: str, running_platform: RunningPlatform) -> tuple[Any, Any, Any, Any]:
    """The generated POST and GET operations, the models and a client for the running platform."""
    return (
        _module(package, "api.default.create_inference_v1_inferences_post"),
        _module(package, "api.default.get_inference_v1_inferences_job_id_get"),
        _module(package, "models"),
        _client(package, running_platform),
    )


def _request(package: str, body: dict[str, Any]) -> Any:
    """The route's own request model: the document has one per route of the live table."""
    model = "InferenceRequest" + "".join(part.title() for part in body["route"].split("-"))
    return getattr(_module(package, "models"), model).from_dict(body)


def test_the_generated_client_runs_a_sync_inference(
    client_package: str, running_platform: RunningPlatform
) -> None:
    post = _module(client_package, "api.default.create_inference_v1_inferences_post")
    models = _module(client_package, "models")
    body = {"route": "intent", "input": {"text": "my card has not arrived"}, "mode": "sync"}

    answer = post.sync_detailed(
        client=_client(client_package, running_platform), body=_request(client_package, body)
    )

    assert answer.status_code == 200
    assert isinstance(answer.parsed, models.SyncInferenceResponse)
    assert answer.parsed.route == "intent"


def test_the_generated_client_follows_a_queued_job(
    client_package: str, running_platform: RunningPlatform
) -> None:
    post, get, models, client = _generated(client_package, running_platform)
    body = {"route": "intent", "input": {"text": "top up failed"}, "mode": "async"}

    accepted = post.sync_detailed(client=client, body=_request(client_package, body))
    assert accepted.status_code == 202
    assert isinstance(accepted.parsed, models.AcceptedJob)
    running_platform.wait_for_completion(accepted.parsed.id)

    job = get.sync_detailed(client=client, job_id=accepted.parsed.id)
    assert job.status_code == 200
    assert isinstance(job.parsed, models.JobView)
    assert job.parsed.status == models.JobStatus.SUCCEEDED


def test_the_generated_client_parses_errors_into_the_envelope(
    client_package: str, running_platform: RunningPlatform
) -> None:
    post, get, models, client = _generated(client_package, running_platform)

    def submit(text: str) -> Any:
        body = _request(client_package, {"route": "intent", "input": {"text": text}, "mode": "async"})
        return post.sync_detailed(client=client, body=body, idempotency_key="generated-client-reuse")

    submit("first body")
    reused_key = submit("another body under the same key")
    missing_job = get.sync_detailed(client=client, job_id="0" * 32)

    for answer, status, code in (
        (reused_key, 422, "IDEMPOTENCY_KEY_REUSED"),
        (missing_job, 404, "JOB_NOT_FOUND"),
    ):
        assert answer.status_code == status
        assert isinstance(answer.parsed, models.ErrorResponse)
        assert answer.parsed.error.code == code
