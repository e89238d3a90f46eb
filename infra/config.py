"""Reads the typed deployment config from `cdk.json` context (key `sluice`), validated at synth."""

from __future__ import annotations

from constructs import Construct
from pydantic import ValidationError

from sluice.config import DeploymentConfig

CONTEXT_KEY = "sluice"


def load_config(scope: Construct) -> DeploymentConfig:
    raw = scope.node.try_get_context(CONTEXT_KEY) or {}
    try:
        return DeploymentConfig.model_validate(raw)
    except ValidationError as error:
        raise ValueError(f"cdk.json context '{CONTEXT_KEY}' is invalid:\n{error}") from None
