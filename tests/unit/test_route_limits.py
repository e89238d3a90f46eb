"""Route limits are enforced before any work, with messages that name fields, never values."""

from __future__ import annotations

import pytest

from sluice.errors import InvalidRequest, PayloadTooLarge, UnknownRoute
from sluice.routing.table import RouteTable, RouteTarget, check_input

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


def test_the_functions_route_defaults_are_the_configs() -> None:
    # The ROUTES variable leaves out what equals RouteTarget's defaults, so a default here that
    # differed from RouteConfig's would silently change a deployed route's limits.
    from sluice.config import RouteConfig

    shared = ("max_input_bytes", "time_budget_ms", "batch_size", "max_receive_count", "required_text_fields")
    assert {name: RouteTarget.model_fields[name].default for name in shared} == {
        name: RouteConfig.model_fields[name].default for name in shared
    }
