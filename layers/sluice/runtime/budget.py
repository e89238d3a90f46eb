"""The `budget` function's settings and wiring: cost alarms and budget notifications in, actions out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, Json

from sluice.config import CostAction
from sluice.cost.actions import Controls, CostResponder
from sluice.cost.instances import InstanceSampler
from sluice.runtime.settings import FunctionSettings


class Settings(FunctionSettings):
    cost_table_name: str = Field(alias="COST_TABLE_NAME")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    route_table_parameter: str = Field(alias="ROUTE_TABLE_PARAMETER")
    # trigger -> the actions it takes (cdk.json `cost.alarms.actions`)
    actions: Json[dict[str, tuple[CostAction, ...]]] = Field(alias="COST_ACTIONS")
    # alarm name (CloudFormation's) -> trigger
    alarm_triggers: Json[dict[str, str]] = Field(alias="COST_ALARM_TRIGGERS")
    # route -> endpoint name, and route -> its variants
    endpoints: Json[dict[str, str]] = Field(alias="ENDPOINT_NAMES")
    variants: Json[dict[str, tuple[str, ...]]] = Field(alias="ENDPOINT_VARIANTS")


@dataclass(frozen=True)
class Budget:
    settings: Settings
    responder: CostResponder
    sampler: InstanceSampler


def build(settings: Settings, clients: Any = None) -> Budget:
    from sluice.adapters.application_autoscaling import AutoscalingControl
    from sluice.adapters.clients import client
    from sluice.adapters.dynamodb_cost_actions import DynamoActionLog, DynamoJobAdmission, DynamoQuotaControl
    from sluice.adapters.dynamodb_usage import DynamoUsageLedger
    from sluice.adapters.emf_metrics import EmfMeterMetrics
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.adapters.route_weights import ParameterRouteWeights
    from sluice.adapters.sagemaker_endpoints import SageMakerInstanceCounts

    make = clients or client
    dynamodb = make("dynamodb")
    table = settings.cost_table_name
    controls = Controls(
        quotas=DynamoQuotaControl(DynamoUsageLedger(dynamodb, table)),
        scaling=AutoscalingControl(make("application-autoscaling"), settings.endpoints),
        weights=ParameterRouteWeights(make("ssm"), settings.route_table_parameter),
        admission=DynamoJobAdmission(dynamodb, table),
    )
    responder = CostResponder(
        settings.actions,
        variants=settings.variants,
        controls=controls,
        log=DynamoActionLog(dynamodb, table),
        events=EventBridgePublisher(make("events"), settings.event_bus_name),
    )
    sampler = InstanceSampler(
        settings.endpoints, SageMakerInstanceCounts(make("sagemaker")), EmfMeterMetrics()
    )
    return Budget(settings=settings, responder=responder, sampler=sampler)
