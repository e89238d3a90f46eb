"""AWS's deploy-time rules that cfn-lint, cdk-nag and checkov do not know, each with its source.

A template can pass every linter and still fail `cdk deploy`, or deploy and then deny every call.
The constructs consult these rules when they build resources, and tests/infra/test_deploy_rules.py
checks the synthesized template against them, so "green here" means "deploys there".
"""

from __future__ import annotations

import re

# CreateEndpointConfig, KmsKeyId: "Certain Nitro-based instances include local storage ... You can't
# request a KmsKeyId when using an instance type with local storage ... the call to
# CreateEndpointConfig fails." Their local NVMe volumes are encrypted by a hardware module instead.
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html#sagemaker-CreateEndpointConfig-request-KmsKeyId
# Families with instance storage, from "Host instance storage volumes"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/host-instance-storage.html) and the EC2
# instance-store list (https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-type-specifications.html).
FAMILIES_WITH_INSTANCE_STORAGE = frozenset(
    {
        # general purpose, compute and memory optimized with NVMe ("d")
        "c5d", "c6gd", "c6id", "m5d", "m6gd", "m6id", "r5d", "r6gd", "r6id",
        # accelerated
        "g4dn", "g4ad", "g5", "g6", "g6e", "gr6", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en",
        "trn1", "trn1n", "trn2",
    }
)  # fmt: skip
# Families that are EBS-only, so the endpoint's storage volume is encrypted with KmsKeyId.
FAMILIES_EBS_ONLY = frozenset(
    {
        "t2", "t3", "m4", "m5", "m6g", "m6i", "m7i", "c4", "c5", "c5n", "c6g", "c6gn", "c6i", "c7g", "c7i",
        "r5", "r6g", "r6i", "r7i", "p2", "p3", "g4", "g5g", "inf1", "inf2",
    }
)  # fmt: skip


def instance_family(instance_type: str) -> str:
    match = re.fullmatch(r"ml\.([a-z0-9]+)\.[a-z0-9]+", instance_type)
    if match is None:
        raise ValueError(f"{instance_type!r} is not a SageMaker instance type (ml.<family>.<size>)")
    return match.group(1)


def has_instance_storage(instance_type: str) -> bool:
    """Whether the instance has local NVMe storage, so CreateEndpointConfig refuses a KmsKeyId.

    An unknown family is refused rather than guessed: a wrong guess either fails the deploy or
    silently leaves an EBS volume without the customer key.
    """
    family = instance_family(instance_type)
    if family in FAMILIES_WITH_INSTANCE_STORAGE:
        return True
    if family in FAMILIES_EBS_ONLY:
        return False
    raise ValueError(
        f"instance family {family!r} ({instance_type}) is in neither storage table of infra/aws_rules.py: "
        "look it up in SageMaker's 'Host instance storage volumes' page and add it"
    )


# AWS WAF Core rule set, SizeRestrictions_BODY: "Inspects for request bodies that are over 8 KB
# (8,192 bytes)" and blocks them. https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
WAF_CRS_BODY_LIMIT_BYTES = 8 * 1024
# The Core rule set's rules that inspect the request body. An inference API carries prompts and
# documents as data: code, markup, paths and URLs in them are content, never rendered, included
# or fetched, so these rules protect nothing here and would refuse legitimate input.
WAF_CRS_BODY_RULES = (
    "SizeRestrictions_BODY",
    "CrossSiteScripting_BODY",
    "GenericLFI_BODY",
    "GenericRFI_BODY",
    "EC2MetaDataSSRF_BODY",
)

# SageMaker lower-cases the names inside the ARNs it authorizes and returns: a call on endpoint
# "Endpoint-LaBSE" is authorized against ".../endpoint/endpoint-labse" (AccessDenied reports such as
# github.com/philschmid/cdk-samples/issues/2; boto/boto3#4606), and IAM compares ARNs case-
# sensitively (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
# CloudFormation-generated names are mixed case, so policies name SageMaker resources by the ARN
# that CloudFormation returns (`Ref` of AWS::SageMaker::Endpoint is its ARN), never by a name.
SAGEMAKER_NAME_ATTRIBUTES = frozenset({"EndpointName", "EndpointConfigName", "ModelName", "ModelPackageName"})

# Condition keys that tie a service principal to this account's resources (confused deputy).
# https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
SOURCE_CONDITION_KEYS = frozenset({"aws:SourceAccount", "aws:SourceArn", "aws:SourceOwner"})
