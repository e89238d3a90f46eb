"""The `budget` function: its environment and its dependencies (cost alarms and budget
notifications in, cost actions out)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from sluice.adapters.clients import client
from sluice.config import CostAction
from sluice.cost.actions import Controls, CostResponder
from sluice.cost.instances import InstanceSampler
from sluice.runtime import shared


class Settings(shared.PowertoolsSettings, shared.EventSettings):
    cost_table: str = Field(alias="COST_TABLE_NAME", min_length=3)
    route_table_parameter: str = Field(alias="ROUTE_TABLE_PARAMETER", min_length=1)
    # trigger -> the actions it takes (cdk.json `cost.alarms.actions`)
    actions: dict[str, tuple[CostAction, ...]] = Field(alias="COST_ACTIONS")
    # alarm name (named from the stack, sluice.cost.alarms.alarm_name) -> trigger
    alarm_triggers: dict[str, str] = Field(alias="COST_ALARM_TRIGGERS")
    # route -> endpoint name, and route -> its variants
    endpoints: dict[str, str] = Field(alias="ENDPOINT_NAMES")
    variants: dict[str, tuple[str, ...]] = Field(alias="ENDPOINT_VARIANTS")
    # tenant name -> the id its requests carry (its API key id), whose usage item holds the cap
    tenant_ids: dict[str, str] = Field(default_factory=dict, alias="TENANT_IDS")

    @field_validator("actions", "alarm_triggers", "endpoints", "variants", "tenant_ids", mode="before")
    @classmethod
    def _from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value


@dataclass(frozen=True)
class Budget:
    settings: Settings
    responder: CostResponder
    sampler: InstanceSampler


def build(settings: Settings, *, clients: shared.ClientFactory = client) -> Budget:
    from sluice.adapters.application_autoscaling import AutoscalingControl
    from sluice.adapters.dynamodb_cost_actions import DynamoActionLog, DynamoJobAdmission, DynamoQuotaControl
    from sluice.adapters.dynamodb_usage import DynamoUsageLedger
    from sluice.adapters.emf_metrics import EmfMeterMetrics
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.adapters.route_weights import ParameterRouteWeights
    from sluice.adapters.sagemaker_endpoints import SageMakerInstanceCounts

    dynamodb = clients("dynamodb")
    table = settings.cost_table
    controls = Controls(
        quotas=DynamoQuotaControl(DynamoUsageLedger(dynamodb, table), tenant_ids=settings.tenant_ids),
        scaling=AutoscalingControl(clients("application-autoscaling"), settings.endpoints),
        weights=ParameterRouteWeights(clients("ssm"), settings.route_table_parameter),
        admission=DynamoJobAdmission(dynamodb, table),
    )
    responder = CostResponder(
        settings.actions,
        variants=settings.variants,
        controls=controls,
        log=DynamoActionLog(dynamodb, table),
        events=EventBridgePublisher(clients("events"), settings.event_bus_name),
    )
    from sluice.adapters.dynamodb_meter import DynamoUsageCounters
    from sluice.cost.alarms import SAMPLE_EVERY_MINUTES

    sampler = InstanceSampler(
        settings.endpoints,
        SageMakerInstanceCounts(clients("sagemaker")),
        EmfMeterMetrics(),
        counters=DynamoUsageCounters(dynamodb, table),
        every_minutes=SAMPLE_EVERY_MINUTES,
    )
    return Budget(settings=settings, responder=responder, sampler=sampler)
