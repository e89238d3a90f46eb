"""The model handler's wire contract: request shapes, errors, response shape, and predict_fn's ranking."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.model.tiny_model import LABELS, MODEL_VERSION, KeywordEncoder, write_tiny_model

JSON = "application/json"


def texts_and_top_k(instances: list[Any]) -> list[tuple[str, int]]:
    return [(instance.text, instance.top_k) for instance in instances]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"instances": [{"text": "a"}, {"text": "b"}], "top_k": 3}, [("a", 3), ("b", 3)], id="instances"
        ),
        pytest.param(
            {"instances": [{"text": "a", "lang": "en"}]}, [("a", 5)], id="instance-extra-keys-ignored"
        ),
        pytest.param("a", [("a", 5)], id="bare-string"),
        pytest.param({"text": "a", "top_k": 2}, [("a", 2)], id="text"),
        pytest.param({"inputs": "a"}, [("a", 5)], id="inputs-string"),
        pytest.param({"inputs": ["a", "b"]}, [("a", 5), ("b", 5)], id="inputs-list"),
        pytest.param(["a", "b"], [("a", 5), ("b", 5)], id="list-of-strings"),
    ],
)
def test_input_fn_accepts_every_documented_request_shape(
    inference: ModuleType, body: Any, expected: list[tuple[str, int]]
) -> None:
    # Given a request in one of the documented shapes
    raw = json.dumps(body).encode()

    # When the handler parses it
    instances = inference.input_fn(raw, JSON)

    # Then it yields one instance per text, in order, with the request's top_k (default 5)
    assert texts_and_top_k(instances) == expected


def test_input_fn_accepts_a_decoded_body_and_a_charset_parameter(inference: ModuleType) -> None:
    # Given the body as str, as SageMaker's toolkit passes UTF-8 content types
    # When it is parsed with a charset parameter on the content type
    instances = inference.input_fn('{"text": "où est ma carte"}', "application/json; charset=utf-8")

    # Then the text arrives intact
    assert texts_and_top_k(instances) == [("où est ma carte", 5)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"{not json", "not valid JSON", id="not-json"),
        pytest.param(b"\xff\xfe", "not valid JSON", id="not-utf8"),
        pytest.param(b'{"text": ""}', "text is empty", id="empty-text"),
        pytest.param(b'{"text": "   "}', "text is empty", id="blank-text"),
        pytest.param(b'{"text": 42}', "must be a string", id="text-not-string"),
        pytest.param(b'{"instances": {"text": "a"}}', "must be a list", id="instances-not-list"),
        pytest.param(b'{"instances": [{"body": "a"}]}', "Instance 0", id="instance-without-text"),
        pytest.param(b'{"instances": []}', "no inputs", id="no-instances"),
        pytest.param(b"[]", "no inputs", id="empty-list"),
        pytest.param(b'["a", null]', "Input 1", id="null-in-list"),
        pytest.param(b'{"question": "a"}', '"instances", "text" or "inputs"', id="unknown-shape"),
        pytest.param(b"42", "JSON object", id="number"),
        pytest.param(b'{"text": "a", "top_k": 0}', "top_k", id="top-k-zero"),
        pytest.param(b'{"text": "a", "top_k": "5"}', "top_k", id="top-k-string"),
        pytest.param(b'{"text": "a", "top_k": true}', "top_k", id="top-k-bool"),
    ],
)
def test_input_fn_rejects_bad_input_with_a_clear_400(inference: ModuleType, raw: bytes, message: str) -> None:
    # Given a request the caller got wrong
    # When the handler parses it
    with pytest.raises(ValueError, match=message) as raised:
        inference.input_fn(raw, JSON)

    # Then it is a 400-class InvalidInput, which the endpoint reports as the model's client error
    assert isinstance(raised.value, inference.InvalidInput)
    assert raised.value.status_code == 400


def test_input_fn_caps_the_number_of_instances(inference: ModuleType) -> None:
    # Given one more instance than a request may carry
    raw = json.dumps({"instances": [{"text": "a"}] * (inference.MAX_INSTANCES + 1)})

    # When / Then it is refused before any model work
    with pytest.raises(inference.InvalidInput, match=f"at most {inference.MAX_INSTANCES}"):
        inference.input_fn(raw, JSON)


@pytest.mark.parametrize("content_type", ["text/csv", "application/x-npy", ""])
def test_input_fn_rejects_other_content_types_with_415(inference: ModuleType, content_type: str) -> None:
    # Given a body that is not declared as JSON
    # When / Then the handler refuses it as an unsupported media type
    with pytest.raises(inference.UnsupportedContentType) as raised:
        inference.input_fn(b'"a"', content_type)
    assert raised.value.status_code == 415


@given(texts=st.lists(st.text(min_size=1).filter(str.strip), min_size=1, max_size=20))
def test_input_fn_keeps_every_text_and_its_order(inference: ModuleType, texts: list[str]) -> None:
    # Given any non-blank texts in the platform's instances shape
    raw = json.dumps({"instances": [{"text": text} for text in texts]})

    # When parsed
    instances = inference.input_fn(raw, JSON)

    # Then nothing is lost, altered or reordered
    assert [instance.text for instance in instances] == texts


@pytest.mark.parametrize("accept", ["application/json", "*/*", "", "text/html, application/json;q=0.9"])
def test_output_fn_answers_the_platforms_json(inference: ModuleType, accept: str) -> None:
    # Given predictions for two inputs
    prediction = [
        inference.IntentPrediction(intents=[{"label": "card_arrival", "score": 0.9}], model_version="v7"),
        inference.IntentPrediction(intents=[{"label": "exchange_rate", "score": 0.8}], model_version="v7"),
    ]

    # When serialised for a client that accepts JSON
    body, content_type = inference.output_fn(prediction, accept)

    # Then the body is the wire contract, one prediction per input in order
    assert content_type == JSON
    assert json.loads(body) == {
        "model_version": "v7",
        "predictions": [
            {"intents": [{"label": "card_arrival", "score": 0.9}]},
            {"intents": [{"label": "exchange_rate", "score": 0.8}]},
        ],
    }


def test_output_fn_rejects_an_accept_it_cannot_produce_with_406(inference: ModuleType) -> None:
    # Given a client that only accepts CSV
    prediction = [inference.IntentPrediction(intents=[], model_version="v7")]

    # When / Then the handler says so instead of sending JSON anyway
    with pytest.raises(inference.UnsupportedAccept) as raised:
        inference.output_fn(prediction, "text/csv")
    assert raised.value.status_code == 406


@pytest.fixture
def tiny_model(inference: ModuleType, tmp_path: Path) -> Any:
    return inference.load_model(write_tiny_model(tmp_path / "model"), encoder=KeywordEncoder())


def test_predict_fn_ranks_intents_per_input_in_request_order(inference: ModuleType, tiny_model: Any) -> None:
    # Given two inputs with different intents and different top_k, batched together
    data = [
        inference.Instance("what is the exchange rate today", top_k=2),
        inference.Instance("I still have not received my new card", top_k=3),
    ]

    # When the model predicts them in one call
    predictions = inference.predict_fn(data, tiny_model)

    # Then each prediction leads with its own intent, has its own top_k, scores descending in (0, 1]
    assert [p.intents[0]["label"] for p in predictions] == ["exchange_rate", "card_arrival"]
    assert [len(p.intents) for p in predictions] == [2, 3]
    for prediction in predictions:
        scores = [intent["score"] for intent in prediction.intents]
        assert scores == sorted(scores, reverse=True)
        assert all(0 < score <= 1 for score in scores)
        assert prediction.model_version == MODEL_VERSION


def test_predict_fn_never_returns_more_intents_than_the_model_knows(
    inference: ModuleType, tiny_model: Any
) -> None:
    # Given a top_k larger than the label set
    data = [inference.Instance("my card was stolen", top_k=50)]

    # When predicted
    [prediction] = inference.predict_fn(data, tiny_model)

    # Then every label appears once, the right one first, and the probabilities sum to one
    assert sorted(intent["label"] for intent in prediction.intents) == sorted(LABELS)
    assert prediction.intents[0]["label"] == "lost_or_stolen_card"
    assert sum(intent["score"] for intent in prediction.intents) == pytest.approx(1, abs=1e-4)


def test_load_model_refuses_a_head_that_does_not_match_its_labels(
    inference: ModuleType, tmp_path: Path
) -> None:
    # Given an artifact whose labels.json lost a label
    model_dir = write_tiny_model(tmp_path / "model")
    (model_dir / "labels.json").write_text(json.dumps(LABELS[:-1]))

    # When / Then loading fails loudly rather than mislabelling predictions
    with pytest.raises(RuntimeError, match="does not match"):
        inference.load_model(model_dir, encoder=KeywordEncoder())
