"""Route limits are enforced before any work, with messages that name fields, never values."""

from __future__ import annotations

import pytest

from sluice.errors import InvalidRequest, PayloadTooLarge, UnknownRoute
from sluice.routing.table import RouteTable, RouteTarget
from sluice.serving.service import check_input

ROUTE = RouteTarget(
    name="intent",
    queue_url="q",
    endpoint_name="e",
    variant="AllTraffic",
    max_input_bytes=100,
    time_budget_ms=1000,
    batch_size=4,
    max_receive_count=3,
    required_text_fields=("text",),
)


def test_input_over_the_route_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge, match="accepts at most 100"):
        check_input(ROUTE, {"text": "é" * 60})  # 60 characters, 120 bytes


@pytest.mark.parametrize("value", [{}, {"text": ""}, {"text": "   "}, {"text": 5}, {"text": None}])
def test_required_text_field_must_be_a_non_empty_string(value: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest, match=r"input\.text"):
        check_input(ROUTE, value)


def test_error_messages_do_not_echo_the_input() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        check_input(ROUTE, {"text": "secret-value-" * 10})
    assert "secret-value" not in caught.value.message


def test_unknown_route_lists_the_known_ones() -> None:
    with pytest.raises(UnknownRoute, match=r"\['intent'\]"):
        RouteTable(routes={"intent": ROUTE}).resolve("chat")
