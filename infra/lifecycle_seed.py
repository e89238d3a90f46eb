"""The lifecycle bucket as a monitored route's first drift window and first retraining need it.

The pipeline reads its base data from `data/base/<route>/` and its incumbent from
`models/<route>/current/`; the monitor reads a version's baseline from
`baselines/<model_version>/baseline.json`. After a rollout the deploy function keeps the last two
current (`sluice.lifecycle.rollout.ServedModels`), but the version the stack itself deploys never
rolls out: without this construct the first retraining would fail on an empty incumbent prefix
(a processing input with no object under it) and the monitor could only answer `no_baseline`.

Each object is copied by S3 itself (CopyObject, one AwsCustomResource call), from the stack's own
assets: the model artifact the endpoint serves, the baseline training wrote beside it, and the
route's base data. A copy runs at create and again only when its source changes (a new asset
hash), so a `cdk deploy` never puts back an older model over a version a rollout promoted.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stage
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.bundling import ROOT
from infra.functions import retention
from infra.lifecycle_layout import BASE_DATA_PREFIX, BASELINE_PREFIX, incumbent_key
from infra.nag import acknowledge

MODEL_DIR = ROOT / ".sluice" / "model"
BASE_DATA_FILES = ("train.csv", "test.csv")  # model/pipeline/prepare.py's inputs
# "You can create a copy of your object up to 5 GB in size in a single atomic action using this
# API" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html): each seed is one call.
SINGLE_COPY_LIMIT_BYTES = 5 * 1024**3


def check_single_copy(path: Path, *, limit: int = SINGLE_COPY_LIMIT_BYTES) -> int:
    """The size of what an asset uploads from `path` (a file, or a directory before bundling),
    refused at synth if one CopyObject could not copy it: the deploy would fail instead."""
    size = (
        path.stat().st_size
        if path.is_file()
        else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    )
    if size > limit:
        raise ValueError(
            f"{path.name} is {size / 1024**3:.1f} GiB: the lifecycle seed copies each object with one "
            f"CopyObject, which copies at most {limit / 1024**3:.0f} GiB"
        )
    return size


def served_model_version(model_dir: Path = MODEL_DIR) -> str:
    """The version label of the model the stack packs (model/train.py writes it in model.json)."""
    if not (model_dir / "model.json").is_file():
        raise ValueError(f"no trained model in {model_dir}: run `make model` before synth")
    return str(json.loads((model_dir / "model.json").read_text())["model_version"])


class LifecycleSeed(Construct):
    """Copies a route's base data, its served model and that model's baseline into the bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: str,
        base_data: str,
        artifact: s3_assets.Asset | None,
        bucket: s3.IBucket,
        key: kms.IKey,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        data_dir = ROOT / base_data
        missing = [name for name in BASE_DATA_FILES if not (data_dir / name).is_file()]
        if missing:
            raise ValueError(f"lifecycle.base_data for route {route} lacks {missing} in {base_data}")
        # Object key -> the asset S3 copies it from.
        copies: dict[str, s3_assets.Asset] = {
            f"{BASE_DATA_PREFIX}/{route}/{name}": s3_assets.Asset(
                self, f"BaseData-{name}", path=str(data_dir / name)
            )
            for name in BASE_DATA_FILES
        }
        if artifact is not None:
            # The route serves the model the stack packs: it is the first incumbent, and its
            # baseline is the one the monitor needs for the version the endpoint starts with.
            copies[incumbent_key(route)] = artifact
            copies[f"{BASELINE_PREFIX}/{served_model_version()}/baseline.json"] = s3_assets.Asset(
                self, "Baseline", path=str(MODEL_DIR / "baseline.json")
            )

        # The copier's own role and log group (KMS, retention), not the singleton's defaults.
        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(log_retention_days),
            encryption_key=key,
            removal_policy=removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Sluice {route}: copies the lifecycle's first data, model and baseline into its bucket",
        )
        log_group.grant_write(self.role)
        for target, source in copies.items():
            # asset_path is relative to the cloud assembly, where the asset is staged (bundled).
            staged = Path(Stage.of(self).outdir) / source.asset_path  # type: ignore[union-attr]
            if staged.exists():
                check_single_copy(staged)
            source.bucket.grant_read(self.role, source.s3_object_key)
            bucket.grant_put(self.role, target)
        # CopyObject into an SSE-KMS bucket needs a data key (the put grant above adds the key's
        # encrypt actions) and decrypt, for a copy made in parts
        # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
        key.grant(self.role, "kms:Decrypt")

        for index, (target, source) in enumerate(sorted(copies.items())):
            copy = cr.AwsSdkCall(
                service="S3",
                action="copyObject",
                parameters={
                    "Bucket": bucket.bucket_name,
                    "Key": target,
                    "CopySource": f"{source.s3_bucket_name}/{source.s3_object_key}",
                },
                # The source's key is its content hash: a new source is a new resource id, so
                # CloudFormation updates (copies) exactly when the source changed.
                physical_resource_id=cr.PhysicalResourceId.of(f"{target}@{source.s3_object_key}"),
                output_paths=["CopyObjectResult.ETag"],
                logging=cr.Logging.with_data_hidden(),
            )
            cr.AwsCustomResource(
                self,
                f"Copy{index}",
                on_create=copy,
                on_update=copy,
                # Nothing on delete: the bucket's own removal policy decides what stays.
                role=self.role,
                log_group=log_group,
                install_latest_aws_sdk=False,
                timeout=Duration.minutes(5),
            )
        self._acknowledge()

    def _acknowledge(self) -> None:
        findings = {
            # CDK's read grant on each asset object and put grant on each named key (with the
            # bucket key's encrypt actions).
            "Action::s3:GetBucket*",
            "Action::s3:GetObject*",
            "Action::s3:List*",
            "Action::s3:Abort*",
            "Action::kms:GenerateDataKey*",
            "Action::kms:ReEncrypt*",
        }
        for finding in sorted(findings):
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[{finding}]",
                "CDK's grants for one copy per object: read of the stack's own assets, put of the named keys",
            )
