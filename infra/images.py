"""Container image URIs per region, from the sagemaker SDK's own image URI tables.

AWS Deep Learning Containers live in a different registry account in some regions (ap-east-1,
me-south-1, af-south-1, eu-south-1, il-central-1, the China partition...), so a hard-coded
account deploys a Model whose image cannot be pulled. The stack is region-agnostic, so each image
becomes a CloudFormation mapping from every region the installed SDK lists to its URI, read with
`Fn::FindInMap` on `AWS::Region`. The SDK reads JSON tables it ships: no network call at synth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_cdk import CfnMapping, Stack
from constructs import Construct

from sluice.config import FrameworkImage


@dataclass(frozen=True)
class RegionalImage:
    """An image as CloudFormation values: resolved per region at deploy time."""

    uri: str
    registry_account: str
    repository: str


@cache
def _image_uris() -> Any:
    # Lazily: the SDK takes seconds to import, and only synth needs it.
    from sagemaker.core import image_uris

    return image_uris


def sdk_regions(image: FrameworkImage, image_scope: str = "inference") -> tuple[str, ...]:
    """Every region the installed SDK has a registry for, for this framework version."""
    config = _image_uris().config_for_framework(image.framework)
    scope = config.get(image_scope, config)
    versions = scope["versions"]
    version = scope.get("version_aliases", {}).get(image.version, image.version)
    if version not in versions:
        raise ValueError(
            f"the sagemaker SDK has no {image.framework} {image_scope} image {image.version}; "
            f"it has {sorted(versions)}"
        )
    return tuple(sorted(versions[version]["registries"]))


@cache
def image_uri(image: FrameworkImage, region: str, instance_type: str, image_scope: str = "inference") -> str:
    """The SDK's URI for the image in one region (what `sagemaker` itself would deploy)."""
    return str(
        _image_uris().retrieve(
            framework=image.framework,
            region=region,
            version=image.version,
            py_version=image.py_version,
            instance_type=instance_type,
            image_scope=image_scope,
        )
    )


def regional_image(
    scope: Construct, image: FrameworkImage, instance_type: str, image_scope: str = "inference"
) -> RegionalImage:
    """The image's URI, registry account and repository for the stack's region, via one mapping
    (`image_scope="training"` for the training image of the same framework version)."""
    stack = Stack.of(scope)
    # One mapping per image and instance family: the SDK picks the processor (gpu, cpu, neuron)
    # from the instance type.
    family = instance_type.split(".")[1]
    mapping_id = (
        "Image"
        + "".join(part.title() for part in (image.framework, image.version, image.py_version or "", family))
        .replace("-", "")
        .replace(".", "")
        + ("" if image_scope == "inference" else image_scope.title())
    )
    mapping = stack.node.try_find_child(mapping_id)
    if not isinstance(mapping, CfnMapping):
        rows: dict[str, dict[str, Any]] = {}
        for region in sdk_regions(image, image_scope):
            uri = image_uri(image, region, instance_type, image_scope)
            registry, path = uri.split("/", 1)
            rows[region] = {
                "Uri": uri,
                "Account": registry.split(".", 1)[0],
                "Repository": path.split(":", 1)[0],
            }
        # lazy: a stack synthesized for one region gets the literal, an agnostic one FindInMap.
        mapping = CfnMapping(stack, mapping_id, mapping=rows, lazy=True)
    # The stack's region: a literal when it is synthesized for one region, else AWS::Region.
    region = stack.region
    return RegionalImage(
        uri=mapping.find_in_map(region, "Uri"),
        registry_account=mapping.find_in_map(region, "Account"),
        repository=mapping.find_in_map(region, "Repository"),
    )
