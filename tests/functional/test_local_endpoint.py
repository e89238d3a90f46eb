"""The local SageMaker endpoint over real HTTP on 127.0.0.1: Runtime API, container contract, micro-batching.

The endpoint hosts the real model/inference.py; the model object is the tiny keyword model, so requests
cost microseconds. One test hosts the trained model and runs only when `.sluice/model` exists.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import httpx
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError

from sluice_local.endpoint import build_app, load_handler
from tests.unit.model.tiny_model import MODEL_VERSION, KeywordEncoder, write_tiny_model

ROOT = Path(__file__).resolve().parents[2]
TRAINED_MODEL = ROOT / ".sluice" / "model"
ENDPOINT = "sluice-intent"
JSON = "application/json"
# Distinct texts with known intents, so each response can be checked against its own request.
TEXTS = {
    "I still have not received my card": "card_arrival",
    "what rate do you give for euros": "exchange_rate",
    "my wallet was stolen": "lost_or_stolen_card",
}


@dataclass
class RunningEndpoint:
    url: str
    app: Any

    @property
    def predict_calls(self) -> int:
        return int(self.app.state.batcher.predict_calls)

    def runtime_client(self) -> Any:
        # No retries: a test must see the first answer, not a retried one.
        config = Config(retries={"max_attempts": 1, "mode": "standard"})
        return boto3.client(
            "sagemaker-runtime", endpoint_url=self.url, region_name="us-east-1", config=config
        )


@contextmanager
def running_endpoint(handler: Any, model: Any, **options: Any) -> Iterator[RunningEndpoint]:
    """Serve on an ephemeral loopback port; the socket listens before the server thread starts,
    so clients can connect at once (the kernel queues them) and the test needs no waiting loop."""
    app = build_app(handler, model, endpoint_names=[ENDPOINT], **options)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield RunningEndpoint(url=f"http://127.0.0.1:{sock.getsockname()[1]}", app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class ArrivalCounter:
    """Wraps the handler to signal once `expected` requests have been parsed by the endpoint."""

    def __init__(self, handler: ModuleType, expected: int) -> None:
        self._handler = handler
        self._expected = expected
        self._count = 0
        self._lock = threading.Lock()
        self.all_arrived = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)

    def input_fn(self, request_body: bytes, content_type: str) -> Any:
        instances = self._handler.input_fn(request_body, content_type)
        with self._lock:
            self._count += 1
            if self._count == self._expected:
                self.all_arrived.set()
        return instances


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    return load_handler()


@pytest.fixture
def tiny_model_factory(handler: ModuleType, tmp_path: Path) -> Callable[[KeywordEncoder], Any]:
    model_dir = write_tiny_model(tmp_path / "model")
    return lambda encoder: handler.load_model(model_dir, encoder=encoder)


@pytest.fixture
def endpoint(
    handler: ModuleType, tiny_model_factory: Callable[[KeywordEncoder], Any]
) -> Iterator[RunningEndpoint]:
    with running_endpoint(handler, tiny_model_factory(KeywordEncoder())) as running:
        yield running


def invoke(client: httpx.Client, text: str) -> httpx.Response:
    return client.post(f"/endpoints/{ENDPOINT}/invocations", json={"instances": [{"text": text}], "top_k": 1})


def test_boto3_invoke_endpoint_gets_the_wire_contract(endpoint: RunningEndpoint) -> None:
    # Given boto3's sagemaker-runtime client pointed at the local endpoint
    runtime = endpoint.runtime_client()
    body = {"instances": [{"text": text} for text in TEXTS], "top_k": 2}

    # When it invokes the endpoint as the platform's worker does
    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT, ContentType=JSON, Accept=JSON, Body=json.dumps(body).encode()
    )

    # Then it answers like SageMaker: the variant, the content type, and one prediction per input in order
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ContentType"] == JSON
    answer = json.loads(response["Body"].read())
    assert answer["model_version"] == MODEL_VERSION
    assert [p["intents"][0]["label"] for p in answer["predictions"]] == list(TEXTS.values())
    assert all(len(p["intents"]) == 2 for p in answer["predictions"])


def test_unknown_endpoint_is_a_validation_error(endpoint: RunningEndpoint) -> None:
    # Given an endpoint name the local endpoint does not serve
    runtime = endpoint.runtime_client()

    # When it is invoked
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="sluice-nope", ContentType=JSON, Body=b'"hello"')

    # Then botocore raises SageMaker's ValidationError, "not found", with a 400
    error = raised.value.response
    assert error["Error"]["Code"] == "ValidationError"
    assert "not found" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("content_type", "body", "original_status"),
    [
        pytest.param(JSON, b"{not json", 400, id="not-json"),
        pytest.param(JSON, b'{"text": ""}', 400, id="empty-text"),
        pytest.param("text/csv", b"a,b", 415, id="unsupported-content-type"),
    ],
)
def test_bad_body_is_a_model_error_with_the_models_status(
    endpoint: RunningEndpoint, content_type: str, body: bytes, original_status: int
) -> None:
    # Given a request the model cannot accept
    runtime = endpoint.runtime_client()

    # When it is invoked
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType=content_type, Body=body)

    # Then botocore raises ModelError (424) carrying the model's own 4xx, as SageMaker reports it
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == original_status


def test_container_contract_ping_and_invocations(endpoint: RunningEndpoint) -> None:
    # Given the endpoint addressed as SageMaker addresses a model container
    with httpx.Client(base_url=endpoint.url) as client:
        # When it is pinged and invoked directly
        ping = client.get("/ping")
        ok = client.post("/invocations", content=b'"my wallet was stolen"', headers={"Content-Type": JSON})
        bad = client.post("/invocations", content=b'{"text": 1}', headers={"Content-Type": JSON})

    # Then it is healthy, answers the contract, and reports bad input with the model's own 400
    assert ping.status_code == 200
    assert ok.status_code == 200
    assert ok.json()["predictions"][0]["intents"][0]["label"] == "lost_or_stolen_card"
    assert bad.status_code == 400
    assert "must be a string" in bad.json()["message"]


def test_concurrent_requests_share_predict_calls(
    handler: ModuleType, tiny_model_factory: Callable[[KeywordEncoder], Any]
) -> None:
    # Given a model whose first forward pass is held until every request has reached the endpoint
    requests = 16
    arrivals = ArrivalCounter(handler, expected=requests)
    encoder = KeywordEncoder(gate=arrivals.all_arrived)
    texts = [list(TEXTS)[i % len(TEXTS)] for i in range(requests)]

    with (
        running_endpoint(arrivals, tiny_model_factory(encoder), max_batch_size=32, max_wait_ms=5) as running,
        httpx.Client(base_url=running.url, limits=httpx.Limits(max_connections=requests)) as client,
        ThreadPoolExecutor(max_workers=requests) as pool,
    ):
        # When they are sent concurrently
        responses = list(pool.map(lambda text: invoke(client, text), texts))
        predict_calls = running.predict_calls

    # Then fewer predict calls than requests served them, and each request got its own answer
    assert all(response.status_code == 200 for response in responses)
    labels = [response.json()["predictions"][0]["intents"][0]["label"] for response in responses]
    assert labels == [TEXTS[text] for text in texts]
    assert predict_calls < requests
    assert max(len(batch) for batch in encoder.batches) > 1


def test_batch_size_one_predicts_each_request_alone(
    handler: ModuleType, tiny_model_factory: Callable[[KeywordEncoder], Any]
) -> None:
    # Given micro-batching switched off
    requests = 8
    encoder = KeywordEncoder()

    with (
        running_endpoint(handler, tiny_model_factory(encoder), max_batch_size=1) as running,
        httpx.Client(base_url=running.url) as client,
        ThreadPoolExecutor(max_workers=requests) as pool,
    ):
        # When requests arrive concurrently
        responses = list(pool.map(lambda _: invoke(client, "my wallet was stolen"), range(requests)))
        predict_calls = running.predict_calls

    # Then every request had a forward pass of its own
    assert all(response.status_code == 200 for response in responses)
    assert predict_calls == requests
    assert all(len(batch) == 1 for batch in encoder.batches)


def test_a_failing_request_does_not_fail_the_requests_batched_with_it(
    handler: ModuleType, tiny_model_factory: Callable[[KeywordEncoder], Any]
) -> None:
    # Given a model that breaks on one particular text, and requests held until all have arrived
    requests = 6
    arrivals = ArrivalCounter(handler, expected=requests)
    encoder = KeywordEncoder(gate=arrivals.all_arrived, fail_on="poison")
    texts = ["poison pill", *["my wallet was stolen"] * (requests - 1)]

    with (
        running_endpoint(arrivals, tiny_model_factory(encoder)) as running,
        httpx.Client(base_url=running.url, limits=httpx.Limits(max_connections=requests)) as client,
        ThreadPoolExecutor(max_workers=requests) as pool,
    ):
        # When they are served together
        responses = list(pool.map(lambda text: invoke(client, text), texts))

    # Then only the poisoned request fails, as a ModelError carrying the model's 500
    assert [response.status_code for response in responses] == [424] + [200] * (requests - 1)
    assert responses[0].headers["x-amzn-ErrorType"] == "ModelError"
    assert responses[0].json()["OriginalStatusCode"] == 500


@pytest.mark.skipif(
    not (TRAINED_MODEL / "metrics.json").exists(), reason="no trained model in .sluice/model (make model)"
)
def test_trained_model_recognises_a_missing_card(handler: ModuleType) -> None:
    # Given the endpoint hosting the trained model, loaded as SageMaker would (model_fn)
    model = handler.model_fn(str(TRAINED_MODEL))

    with running_endpoint(handler, model) as running:
        # When a customer asks about a card that has not arrived
        response = running.runtime_client().invoke_endpoint(
            EndpointName=ENDPOINT,
            ContentType=JSON,
            Body=json.dumps({"instances": [{"text": "I still have not received my new card"}], "top_k": 3}),
        )

    # Then card_arrival is among the top intents, from the trained model's version
    answer = json.loads(response["Body"].read())
    metrics = json.loads((TRAINED_MODEL / "metrics.json").read_text())
    assert answer["model_version"] == metrics["model_version"]
    assert "card_arrival" in [intent["label"] for intent in answer["predictions"][0]["intents"]]
