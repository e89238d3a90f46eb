"""Variant assignment: the split follows the weights, callers keep their variant, overrides win."""

from __future__ import annotations

from collections import Counter

import pytest

from sluice.errors import UnknownVariant
from sluice.routing.table import RouteTarget, TenantWeights, VariantTarget
from sluice.routing.variants import assign, sticky_key

ROUTE = RouteTarget(
    name="intent",
    queue_url="q",
    endpoint_name="e",
    variant="blue",
    max_input_bytes=1000,
    time_budget_ms=1000,
    batch_size=4,
    max_receive_count=3,
    required_text_fields=("text",),
    variants=(
        VariantTarget(name="blue", weight=70, model_version="v1"),
        VariantTarget(name="green", weight=20, model_version="v2"),
        VariantTarget(name="canary", weight=10, model_version="v3"),
    ),
    tenant_overrides=(TenantWeights(tenant="tenant-beta", weights={"canary": 1}),),
)


def test_over_ten_thousand_callers_the_split_is_within_two_points_of_the_weights() -> None:
    # Given 10,000 distinct callers of one tenant
    keys = [sticky_key("tenant-acme", f"caller-{n}") for n in range(10_000)]

    # When each is assigned a variant
    split = Counter(assign(ROUTE, tenant="tenant-acme", key=key).variant.name for key in keys)

    # Then each variant's share is within 2 percentage points of its weight
    for variant, expected in {"blue": 70, "green": 20, "canary": 10}.items():
        assert abs(split[variant] / 100 - expected) <= 2, split


def test_a_caller_keeps_its_variant() -> None:
    key = sticky_key("tenant-acme", "caller-42")
    first = assign(ROUTE, tenant="tenant-acme", key=key).variant.name
    assert {assign(ROUTE, tenant="tenant-acme", key=key).variant.name for _ in range(100)} == {first}


def test_raising_the_canary_only_moves_callers_to_the_canary() -> None:
    # Given the assignments at 10% canary
    keys = [sticky_key("t", f"c{n}") for n in range(5000)]
    before = {key: assign(ROUTE, tenant="t", key=key).variant.name for key in keys}

    # When the canary's weight goes from 10 to 25 (its share from 10% to 25/115, about 22%)
    shifted = ROUTE.model_copy(
        update={
            "variants": (
                VariantTarget(name="blue", weight=70),
                VariantTarget(name="green", weight=20),
                VariantTarget(name="canary", weight=25),
            )
        }
    )
    after = {key: assign(shifted, tenant="t", key=key).variant.name for key in keys}

    # Then every caller that moved, moved to the canary, and only as many as the shift needs (~12%)
    moved = [key for key in keys if before[key] != after[key]]
    assert all(after[key] == "canary" for key in moved)
    assert 0.09 < len(moved) / len(keys) < 0.15


def test_a_tenant_override_replaces_the_weights() -> None:
    names = {
        assign(ROUTE, tenant="tenant-beta", key=sticky_key("tenant-beta", f"c{n}")).variant.name
        for n in range(200)
    }
    assert names == {"canary"}


def test_an_explicit_target_variant_wins_and_an_unknown_one_is_a_client_error() -> None:
    chosen = assign(ROUTE, tenant="t", key="k", requested="green")
    assert (chosen.variant.name, chosen.explicit) == ("green", True)
    with pytest.raises(UnknownVariant, match="blue"):
        assign(ROUTE, tenant="t", key="k", requested="purple")


def test_callers_without_a_key_are_spread_by_the_weights() -> None:
    split = Counter(assign(ROUTE, tenant="t", key=sticky_key("t", None)).variant.name for _ in range(5000))
    assert abs(split["blue"] / 50 - 70) <= 3
