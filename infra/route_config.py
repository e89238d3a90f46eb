"""The live route table: an SSM parameter the functions read through Powertools, with caching.

Operations change weights, tenant overrides and fallbacks by writing the parameter (validated
by the functions as strictly as cdk.json is at synth); a deploy rewrites it from cdk.json.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.functions import SluiceFunction
from sluice.config import DeploymentConfig
from sluice.routing import RouteTable, RouteTarget


class LiveRouteTable(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        queues: Mapping[str, str],
        endpoints: Mapping[str, str],
        tenant_ids: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        table = RouteTable(
            routes={
                route.name: RouteTarget.from_config(
                    route,
                    queue_url=queues[route.name],
                    endpoint_name=endpoints[route.name],
                    tenant_ids=tenant_ids,
                )
                for route in config.routes
            }
        )
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
        function.function.add_environment("ROUTE_TABLE_PARAMETER", self.parameter.parameter_name)
        function.function.add_environment(
            "ROUTE_TABLE_MAX_AGE_SECONDS", str(self._config.route_table_max_age_seconds)
        )
