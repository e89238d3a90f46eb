#!/usr/bin/env python3
"""CDK app entry: builds the Sluice stack from the typed config in cdk.json. No AWS calls here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "layers"))  # the `sluice` library, for its config models

from aws_cdk import App, Environment

from infra.config import load_config
from infra.nag import enable_nag
from infra.stack import SluiceStack

app = App()
config = load_config(app)
SluiceStack(
    app,
    app.node.try_get_context("stack_name") or "Sluice",
    config=config,
    description="Sluice: event-driven serverless inference platform",
    # Account and region come from the deploying credentials (CDK_DEFAULT_*), never looked up here.
    env=Environment(account=None, region=None),
)
enable_nag(app)
app.synth()
