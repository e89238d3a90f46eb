"""The platform-to-model wire contract."""

from __future__ import annotations

import pytest

from sluice.errors import ModelFailed
from sluice.routing.model_io import parse_predictions, to_model_payload


def test_payload_wraps_inputs_as_instances() -> None:
    assert to_model_payload([{"text": "a"}, {"text": "b"}]) == {"instances": [{"text": "a"}, {"text": "b"}]}


def test_predictions_are_returned_in_order_with_the_model_version() -> None:
    parsed = parse_predictions({"predictions": [{"x": 1}, {"x": 2}], "model_version": 3}, expected=2)
    assert parsed.outputs == [{"x": 1}, {"x": 2}]
    assert parsed.model_version == "3"


@pytest.mark.parametrize("body", [{}, {"predictions": [{}]}, {"predictions": "nope"}, ["not", "a", "dict"]])
def test_a_model_answer_that_does_not_match_the_inputs_is_a_model_failure(body: object) -> None:
    with pytest.raises(ModelFailed):
        parse_predictions(body, expected=2)
