"""The SageMaker control plane for rollouts (models, endpoint configs, guarded updates, model
packages) and the rollout ledger in the lifecycle bucket (`rollouts/<endpoint>/...`)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from sluice.lifecycle.rollout import EndpointState, PackageVersion, Rollout, VariantSpec

# What a copied endpoint config keeps from its template (CreateEndpointConfig's own fields).
_CONFIG_FIELDS = (
    "DataCaptureConfig",
    "KmsKeyId",
    "AsyncInferenceConfig",
    "ExplainerConfig",
    "ShadowProductionVariants",
)
_VARIANT_FIELDS = (
    "VariantName",
    "InitialInstanceCount",
    "InstanceType",
    "InitialVariantWeight",
    "AcceleratorType",
    "ServerlessConfig",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "ManagedInstanceScaling",
    "RoutingConfig",
)


class SageMakerRollouts:
    def __init__(self, client: Any) -> None:
        self._client = client

    def endpoint(self, name: str) -> EndpointState:
        endpoint = self._client.describe_endpoint(EndpointName=name)
        config = self._client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        live = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])}
        return EndpointState(
            status=endpoint["EndpointStatus"],
            config_name=endpoint["EndpointConfigName"],
            variants=tuple(
                VariantSpec(
                    name=variant["VariantName"],
                    model_name=variant["ModelName"],
                    instance_count=int(
                        live.get(variant["VariantName"], {}).get("CurrentInstanceCount")
                        or variant.get("InitialInstanceCount")
                        or 1
                    ),
                )
                for variant in config["ProductionVariants"]
            ),
            failure_reason=endpoint.get("FailureReason"),
        )

    def create_model_like(self, *, name: str, template_model: str, image: str, model_data_url: str) -> None:
        template = self._client.describe_model(ModelName=template_model)
        container = dict(template.get("PrimaryContainer") or template["Containers"][0])
        container = {
            "Image": image,
            "ModelDataUrl": model_data_url,
            "Environment": container.get("Environment", {}),
        }
        request: dict[str, Any] = {
            "ModelName": name,
            "ExecutionRoleArn": template["ExecutionRoleArn"],
            "PrimaryContainer": container,
        }
        if template.get("VpcConfig"):
            request["VpcConfig"] = template["VpcConfig"]
        if template.get("EnableNetworkIsolation"):
            request["EnableNetworkIsolation"] = True
        self._client.create_model(**request)

    def create_config_like(self, *, name: str, template_config: str, variant: str, model_name: str) -> None:
        template = self._client.describe_endpoint_config(EndpointConfigName=template_config)
        variants = []
        for spec in template["ProductionVariants"]:
            copied = {field: spec[field] for field in _VARIANT_FIELDS if field in spec}
            copied["ModelName"] = model_name if spec["VariantName"] == variant else spec["ModelName"]
            variants.append(copied)
        request = {field: template[field] for field in _CONFIG_FIELDS if template.get(field)}
        self._client.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants, **request)

    def update_endpoint(self, *, endpoint: str, config_name: str, deployment: dict[str, Any]) -> None:
        self._client.update_endpoint(
            EndpointName=endpoint, EndpointConfigName=config_name, DeploymentConfig=deployment
        )

    def package(self, arn: str, *, route: str) -> PackageVersion:
        package = self._client.describe_model_package(ModelPackageName=arn)
        container = package["InferenceSpecification"]["Containers"][0]
        return PackageVersion(
            arn=package["ModelPackageArn"],
            route=route,
            model_version=f"v{package['ModelPackageVersion']}",
            image=container["Image"],
            model_data_url=container["ModelDataUrl"],
            baseline_uri=baseline_uri(package),
        )

    def packages(self, group: str) -> list[dict[str, Any]]:
        """Every version of `group`, newest first, with its approval, metadata and metrics' location."""
        paginator = self._client.get_paginator("list_model_packages")
        arns = [
            summary["ModelPackageArn"]
            for page in paginator.paginate(
                ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"
            )
            for summary in page["ModelPackageSummaryList"]
        ]
        return [self._client.describe_model_package(ModelPackageName=arn) for arn in arns]


def baseline_uri(package: dict[str, Any]) -> str | None:
    """The candidate's baseline, which the golden-query gate writes beside the report the package's
    ModelQuality statistics point at (infra/lifecycle_pipeline.py, model/pipeline/evaluate.py)."""
    report = (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get(
        "S3Uri"
    )
    if not report or "/" not in str(report):
        return None
    return f"{str(report).rsplit('/', 1)[0]}/baseline.json"


class S3RolloutLedger:
    """`rollouts/<endpoint>/pending.json` while a rollout is in flight, then `history/<time>.json`."""

    def __init__(self, client: Any, *, bucket: str, prefix: str = "rollouts") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/")

    def pending(self, endpoint: str) -> Rollout | None:
        try:
            body = self._client.get_object(Bucket=self._bucket, Key=self._pending(endpoint))["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return Rollout.model_validate_json(body)

    def start(self, rollout: Rollout) -> None:
        self._client.put_object(
            Bucket=self._bucket, Key=self._pending(rollout.endpoint), Body=rollout.model_dump_json().encode()
        )

    def finish(self, rollout: Rollout, outcome: str) -> None:
        record = {**rollout.model_dump(mode="json"), "outcome": outcome}
        key = f"{self._prefix}/{rollout.endpoint}/history/{rollout.started_at.strftime('%Y%m%dT%H%M%S')}.json"
        self._client.put_object(Bucket=self._bucket, Key=key, Body=json.dumps(record).encode())
        self._client.delete_object(Bucket=self._bucket, Key=self._pending(rollout.endpoint))

    def _pending(self, endpoint: str) -> str:
        return f"{self._prefix}/{endpoint}/pending.json"
