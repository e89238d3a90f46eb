"""A route's SageMaker real-time endpoint: Model, EndpointConfig (GPU, KMS) and Endpoint.

The model artifact is `model/inference.py` plus the trained weights, served by the SageMaker
PyTorch inference container in script mode, with network isolation: the artifact carries
everything the model needs.
"""

from __future__ import annotations

from aws_cdk import AssetHashType, Aws, BundlingOptions, BundlingOutput, DockerImage
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.bundling import ROOT, ModelArtifactBundler
from infra.nag import acknowledge
from sluice.config import RouteConfig


class ModelEndpoint(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, route: RouteConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        hosting = route.endpoint
        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker execution role for route {route.name}",
        )
        model_data_url = hosting.model_data_url or self._package_local_model(key)
        image_uri = hosting.image_uri.replace("{region}", Aws.REGION)
        self._grant_hosting(image_uri)

        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            enable_network_isolation=True,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri,
                model_data_url=model_data_url,
                environment={
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    "HF_HUB_OFFLINE": "1",
                },
            ),
        )
        self.model.node.add_dependency(self.role)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            kms_key_id=key.key_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=hosting.variant_name,
                    model_name=self.model.attr_model_name,
                    instance_type=hosting.instance_type,
                    initial_instance_count=hosting.initial_instance_count,
                    initial_variant_weight=1.0,
                )
            ],
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint", endpoint_config_name=self.endpoint_config.attr_endpoint_config_name
        )
        self.endpoint_name = self.endpoint.attr_endpoint_name
        self.endpoint_arn = (
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:endpoint/{self.endpoint_name}"
        )
        acknowledge(
            self.model,
            "AwsSolutions-SM1",
            "The stack creates no VPC; the model runs with network isolation instead",
        )

    def grant_invoke(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:InvokeEndpoint"], resource_arns=[self.endpoint_arn]
        )

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
        return asset.s3_object_url

    def _grant_hosting(self, image_uri: str) -> None:
        repository = image_uri.split("/", 1)[1].split(":", 1)[0]
        registry = image_uri.split(".", 1)[0]
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=[f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{registry}:repository/{repository}"],
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
