"""Autoscaling of an endpoint's production variants, and the alarms on what scaling cannot fix.

Real-time variants track invocations per instance between their initial and maximum count.
Asynchronous variants scale to zero: target tracking keeps ApproximateBacklogSizePerInstance
near its target, and a step policy on HasBacklogWithoutCapacity starts the first instance when
requests arrive at an endpoint that has none (target tracking alone would wait for the backlog
to exceed the target). An alarm fires when the oldest queued request is too old.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct, IConstruct

from infra.operator_alerts import ScalingTrigger
from sluice.config import RouteConfig


def _sagemaker_metric(name: str, endpoint_name: str, statistic: str, **dimensions: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/SageMaker",
        metric_name=name,
        dimensions_map={"EndpointName": endpoint_name, **dimensions},
        statistic=statistic,
        period=Duration.minutes(1),
    )


class EndpointScaling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: RouteConfig,
        endpoint_name: str,
        endpoint: IConstruct,
    ) -> None:
        super().__init__(scope, construct_id)
        hosting = route.endpoint
        self.targets: dict[str, appscaling.ScalableTarget] = {}
        for variant in hosting.production_variants:
            initial = variant.initial_instance_count or hosting.initial_instance_count
            asynchronous = hosting.mode == "async"
            target = appscaling.ScalableTarget(
                self,
                f"Target-{variant.name}",
                service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
                resource_id=f"endpoint/{endpoint_name}/variant/{variant.name}",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                min_capacity=hosting.async_inference.min_capacity if asynchronous else initial,
                max_capacity=hosting.async_inference.max_capacity
                if asynchronous
                else max(initial, hosting.max_instance_count),
            )
            target.node.add_dependency(endpoint)  # the variant must exist before it is registered
            self.targets[variant.name] = target
            if asynchronous:
                self._scale_async(target, route, endpoint_name, variant.name)
            else:
                target.scale_to_track_metric(
                    "Invocations",
                    target_value=hosting.target_invocations_per_instance,
                    predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
                    scale_in_cooldown=Duration.minutes(5),
                    scale_out_cooldown=Duration.minutes(1),
                )
        if hosting.mode == "async":
            self.oldest_request_alarm = cloudwatch.Alarm(
                self,
                "OldestRequestAlarm",
                alarm_description=f"Route {route.name}: the oldest queued async request is too old",
                metric=_sagemaker_metric("ApproximateAgeOfOldestRequest", endpoint_name, "Maximum"),
                threshold=hosting.async_inference.max_oldest_request_age_seconds,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

    def _scale_async(
        self, target: appscaling.ScalableTarget, route: RouteConfig, endpoint_name: str, variant: str
    ) -> None:
        settings = route.endpoint.async_inference
        target.scale_to_track_metric(
            "Backlog",
            target_value=settings.target_backlog_per_instance,
            custom_metric=_sagemaker_metric("ApproximateBacklogSizePerInstance", endpoint_name, "Average"),
            scale_in_cooldown=Duration.minutes(10),
            scale_out_cooldown=Duration.minutes(2),
        )
        from_zero = appscaling.StepScalingAction(
            self,
            f"FromZero-{variant}",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.minutes(5),
        )
        from_zero.add_adjustment(adjustment=1, lower_bound=0)
        alarm = ScalingTrigger(
            self,
            f"BacklogWithoutCapacity-{variant}",
            alarm_description=f"Route {route.name}: requests are waiting and no instance is running",
            metric=_sagemaker_metric("HasBacklogWithoutCapacity", endpoint_name, "Average"),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.ApplicationScalingAction(from_zero))
