"""cdk-nag on every synth: AwsSolutions rules as a CDK validation plugin.

Any finding not acknowledged (each acknowledgment carries its reason, next to the resource)
fails synthesis.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

_PACK = "AwsSolutions"


def enable_nag(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge a nag finding on `scope` and everything under it, with the reason on record."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{_PACK}::{rule_id}", reason=reason))
