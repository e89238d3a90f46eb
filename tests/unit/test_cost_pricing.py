"""What model time costs per variant: its own price when known, the route's dearest otherwise."""

from __future__ import annotations

from sluice.config import DeploymentConfig, EndpointConfig, RouteConfig, VariantConfig
from sluice.cost.pricing import PriceList

# 3.60 USD an hour is 1,000 micro-dollars a model second; green costs ten times blue.
PRICES = PriceList.from_config(
    DeploymentConfig(
        routes=(
            RouteConfig(
                name="intent",
                endpoint=EndpointConfig(
                    variants=(
                        VariantConfig(name="blue", cost_per_instance_hour=3.6),
                        VariantConfig(
                            name="green",
                            cost_per_instance_hour=36.0,
                            model_data_url="s3://models/green.tar.gz",
                        ),
                    )
                ),
            ),
        ),
        cost={"expected_utilization": 1.0},
    )
)


def test_a_variant_is_charged_its_own_price() -> None:
    assert PRICES.model_time_micros("intent", "blue", 1000) == 1_000
    assert PRICES.model_time_micros("intent", "green", 1000) == 10_000


def test_a_reservation_names_no_variant_and_is_charged_the_dearest() -> None:
    assert PRICES.model_time_micros("intent", None, 1000) == 10_000


def test_a_variant_the_price_list_does_not_know_is_charged_the_dearest_not_nothing() -> None:
    # A variant added to the live route table after the price list was rendered, or none reported
    assert PRICES.model_time_micros("intent", "purple", 1000) == 10_000
    assert PRICES.model_time_micros("intent", "", 1000) == 10_000


def test_a_route_without_prices_costs_nothing() -> None:
    assert PRICES.model_time_micros("unpriced", "blue", 1000) == 0
