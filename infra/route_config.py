"""The live route table: an SSM parameter the functions read through Powertools, with caching.

Operations change weights, tenant overrides and fallbacks by writing the parameter (validated
by the functions as strictly as cdk.json is at synth); a deploy rewrites it from cdk.json.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.functions import SluiceFunction
from sluice.routing.table import RouteTable


class LiveRouteTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, table: RouteTable) -> None:
        super().__init__(scope, construct_id)
        # The advanced tier holds 8 KB: room for several routes with variants and overrides.
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            description="Sluice route table: routes, variants and weights, tenant overrides, fallbacks",
            string_value=Stack.of(self).to_json_string(table.model_dump(mode="json")),
            tier=ssm.ParameterTier.ADVANCED,
        )

    def grant_read(self, function: SluiceFunction) -> None:
        self.parameter.grant_read(function.role)
