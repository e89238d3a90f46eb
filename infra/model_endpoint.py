"""A route's SageMaker endpoint: a Model per production variant, EndpointConfig (GPU, KMS), Endpoint.

The default model artifact is `model/inference.py` plus the trained weights, served by the
SageMaker PyTorch inference container in script mode, with network isolation: the artifact
carries everything the model needs. A generative route runs the Hugging Face LLM container
(TGI) with the model id from config; asynchronous endpoints get S3 output and SNS notifications.
"""

from __future__ import annotations

from aws_cdk import AssetHashType, Aws, BundlingOptions, BundlingOutput, DockerImage
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.async_endpoint import FAILURE_PREFIX, OUTPUT_PREFIX, AsyncInferenceIo
from infra.aws_rules import has_instance_storage
from infra.bundling import ROOT, ByoArtifactBundler, ModelArtifactBundler
from infra.images import RegionalImage, regional_image
from infra.nag import acknowledge
from sluice.config import ModelSource, RouteConfig, VariantConfig


class ModelEndpoint(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: RouteConfig,
        key: kms.IKey,
        async_io: AsyncInferenceIo | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        hosting = route.endpoint
        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker execution role for route {route.name}",
        )
        image = self._image(route)
        self._grant_hosting(image)
        self._key = key
        self._packaged: str | None = None
        # The built-in model's artifact (.sluice/model packed), if a variant serves it: the
        # lifecycle seeds its bucket with it as the first retraining's incumbent.
        self.artifact: s3_assets.Asset | None = None

        # One Model per variant: each variant is its own model version on its own fleet.
        production_variants = []
        self.models: dict[str, sagemaker.CfnModel] = {}
        for index, variant in enumerate(hosting.production_variants):
            model = sagemaker.CfnModel(
                self,
                "Model" if index == 0 else f"Model-{variant.name}",  # the first keeps its logical id
                execution_role_arn=self.role.role_arn,
                enable_network_isolation=hosting.network_isolation,
                primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                    image=image.uri,
                    model_data_url=self._model_data_url(route, variant),
                    environment=self._environment(route),
                ),
            )
            model.node.add_dependency(self.role)
            self.models[variant.name] = model
            production_variants.append(
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=variant.name,
                    model_name=model.attr_model_name,
                    instance_type=variant.instance_type or hosting.instance_type,
                    initial_instance_count=variant.initial_instance_count or hosting.initial_instance_count,
                    # SageMaker's own split, for callers that name no TargetVariant; Sluice always does.
                    initial_variant_weight=variant.weight if hosting.variants else 1.0,
                )
            )
        self.model = next(iter(self.models.values()))
        async_config = None
        if hosting.mode == "async":
            if async_io is None:
                raise ValueError(f"route {route.name} is asynchronous: pass its AsyncInferenceIo")
            async_io.grant_endpoint(self.role, key, route.name)
            async_config = sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=async_io.bucket.s3_url_for_object(f"{OUTPUT_PREFIX}{route.name}"),
                    s3_failure_path=async_io.bucket.s3_url_for_object(f"{FAILURE_PREFIX}{route.name}"),
                    kms_key_id=key.key_arn,
                    notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                        success_topic=async_io.success_topic.topic_arn,
                        error_topic=async_io.error_topic.topic_arn,
                    ),
                ),
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=(
                        hosting.async_inference.max_concurrent_invocations_per_instance
                    )
                ),
            )
        # Instances with local NVMe storage encrypt it in hardware, and CreateEndpointConfig fails
        # if KmsKeyId is set for any of them (infra/aws_rules.py); EBS-only fleets get the key.
        local_storage = any(
            has_instance_storage(variant.instance_type or hosting.instance_type)
            for variant in hosting.production_variants
        )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            kms_key_id=None if local_storage else key.key_arn,
            production_variants=production_variants,
            async_inference_config=async_config,
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint", endpoint_config_name=self.endpoint_config.attr_endpoint_config_name
        )
        self.endpoint_name = self.endpoint.attr_endpoint_name
        # `Ref` is the ARN SageMaker returns, lower case as it authorizes calls; one built from the
        # mixed-case EndpointName would never match (infra/aws_rules.py).
        self.endpoint_arn = self.endpoint.ref
        for model in self.models.values():
            acknowledge(
                model,
                "AwsSolutions-SM1",
                "The stack creates no VPC; models run with network isolation, or (an LLM container "
                "that downloads its weights at start) with egress to the model hub only by design",
            )

    def grant_invoke(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync"],
            resource_arns=[self.endpoint_arn],
        )

    def _model_data_url(self, route: RouteConfig, variant: VariantConfig) -> str | None:
        hosting = route.endpoint
        if variant.model_data_url or hosting.model_data_url:
            return variant.model_data_url or hosting.model_data_url
        if hosting.wire_format == "hf-tgi":
            return None  # the LLM container loads HF_MODEL_ID itself
        source = hosting.model_of(variant)
        if source is not None:  # the variant's own model directory, packed by its kind's packer
            return self._package_byo_model(source, self._key)
        if self._packaged is None:
            self._packaged = self._package_local_model(self._key)
        return self._packaged

    def _package_byo_model(self, source: ModelSource, key: kms.IKey) -> str:
        asset_id = f"Artifact-{source.path}"
        existing = self.node.try_find_child(asset_id)
        asset = (
            existing
            if isinstance(existing, s3_assets.Asset)
            else s3_assets.Asset(
                self,
                asset_id,
                path=str(ROOT / source.path),
                asset_hash_type=AssetHashType.OUTPUT,
                bundling=BundlingOptions(
                    image=DockerImage.from_registry("public.ecr.aws/docker/library/python:3.12-slim"),
                    local=ByoArtifactBundler(source),
                    output_type=BundlingOutput.ARCHIVED,
                ),
            )
        )
        self._grant_artifact_read(asset, key)
        return asset.s3_object_url

    @staticmethod
    def _environment(route: RouteConfig) -> dict[str, str]:
        hosting = route.endpoint
        script_mode = (
            {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "HF_HUB_OFFLINE": "1",
            }
            if hosting.wire_format == "sluice"
            else {}
        )
        return {**script_mode, **hosting.environment}

    def _package_local_model(self, key: kms.IKey) -> str:
        asset = s3_assets.Asset(
            self,
            "Artifact",
            path=str(ROOT / "model"),
            # Hash the packed artifact, not model/: retraining changes the weights, not the code.
            asset_hash_type=AssetHashType.OUTPUT,
            bundling=BundlingOptions(
                image=DockerImage.from_registry("public.ecr.aws/docker/library/python:3.12-slim"),
                local=ModelArtifactBundler(ROOT / ".sluice" / "model"),
                output_type=BundlingOutput.ARCHIVED,
            ),
        )
        self._grant_artifact_read(asset, key)
        self.artifact = asset
        return asset.s3_object_url

    def _grant_artifact_read(self, asset: s3_assets.Asset, key: kms.IKey) -> None:
        asset.grant_read(self.role)
        key.grant_decrypt(self.role)
        for finding in (
            "Action::s3:GetBucket*",
            "Action::s3:GetObject*",
            "Action::s3:List*",
            "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
        ):
            acknowledge(
                self.role, f"AwsSolutions-IAM5[{finding}]", "CDK's read grant on the model artifact asset"
            )

    def _image(self, route: RouteConfig) -> RegionalImage:
        hosting = route.endpoint
        if hosting.image_uri is None:
            return regional_image(self, hosting.image, hosting.instance_type)
        # A custom image: the account and repository are in its URI.
        uri = hosting.image_uri.replace("{region}", Aws.REGION)
        registry, path = hosting.image_uri.split("/", 1)
        return RegionalImage(
            uri=uri, registry_account=registry.split(".", 1)[0], repository=path.split(":")[0]
        )

    def _grant_hosting(self, image: RegionalImage) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=[
                    f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{image.registry_account}:repository/{image.repository}"
                ],
            )
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints"]}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/*"
                ],
            )
        )
        for finding, reason in {
            "Resource::*": "ecr:GetAuthorizationToken and cloudwatch:PutMetricData take no resource "
            "(the latter is limited by a namespace condition)",
            "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/*": (
                "SageMaker names endpoint log groups at creation; scoped to the endpoints prefix"
            ),
        }.items():
            acknowledge(self.role, f"AwsSolutions-IAM5[{finding}]", reason)
