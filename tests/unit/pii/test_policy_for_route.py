"""A route's policy with an allow-list and no operators of its own (a survivor of `make mutation`)."""

from __future__ import annotations

from sluice import pii


def test_a_route_policy_needs_no_operators_of_its_own() -> None:
    # Given a route that allows PERSON and names no operators
    # When its policy is built
    policy = pii.RedactionPolicy.for_route(allow=["PERSON"])

    # Then PERSON is let through and everything else gets the default operator
    assert policy.operator_for("PERSON") is pii.Operator.ALLOW
    assert policy.operator_for("EMAIL_ADDRESS") is policy.default
