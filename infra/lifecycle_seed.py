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
hash), so a `cdk deploy` with the same model does not put it back over a version a rollout
promoted. (A changed packed artifact does: the stack then deploys that model to the endpoint as
well, and the incumbent follows it.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy, Stage
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.bundling import ROOT
from infra.functions import function_identity
from infra.lifecycle_layout import BASE_DATA_PREFIX, BASELINE_PREFIX, FEEDBACK_PREFIX, incumbent_key
from infra.nag import acknowledge

MODEL_DIR = ROOT / ".sluice" / "model"
BASE_DATA_FILES = ("train.csv", "test.csv")  # model/pipeline/prepare.py's inputs
OPTIONAL_BASE_DATA_FILES = ("categories.json",)  # the label set, in order (else train.csv's labels)
NO_FEEDBACK_YET = ROOT / "infra" / "assets" / "no-feedback-yet.jsonl"
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


@dataclass(frozen=True)
class SeededRoute:
    """A monitored route: its base data directory, and the stack's packed model if it serves it."""

    base_data: str
    artifact: s3_assets.Asset | None


def served_model_version(model_dir: Path = MODEL_DIR) -> str:
    """The version label of the model the stack packs (model/train.py writes it in model.json)."""
    if not (model_dir / "model.json").is_file():
        raise ValueError(f"no trained model in {model_dir}: run `make model` before synth")
    return str(json.loads((model_dir / "model.json").read_text())["model_version"])


class LifecycleSeed(Construct):
    """Copies each monitored route's base data, its served model and that model's baseline into
    the bucket. One construct for every route: AwsCustomResource runs all its calls in one
    function per stack, whose role is the first one given (aws/aws-cdk#32533), so the copies
    share one role that may read every source and write every key."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: dict[str, SeededRoute],
        bucket: s3.IBucket,
        key: kms.IKey,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        # Object key -> the asset S3 copies it from.
        copies: dict[str, s3_assets.Asset] = {}
        for route, seeded in routes.items():
            copies |= self._route_copies(route, seeded)

        log_group, self.role = function_identity(
            self,
            description="Sluice lifecycle: copies the first base data, models and baselines into its bucket",
            key=key,
            log_retention_days=log_retention_days,
            removal_policy=removal_policy,
        )
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

        for target, source in sorted(copies.items()):
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
                # Named after its key: adding or removing one copy leaves the others' ids alone.
                "Copy-" + target.replace("/", "-"),
                on_create=copy,
                on_update=copy,
                # Nothing on delete: the bucket's own removal policy decides what stays.
                role=self.role,
                log_group=log_group,
                install_latest_aws_sdk=False,
                timeout=Duration.minutes(5),
            )
        self._acknowledge()

    def _route_copies(self, route: str, seeded: SeededRoute) -> dict[str, s3_assets.Asset]:
        data_dir = ROOT / seeded.base_data
        missing = [name for name in BASE_DATA_FILES if not (data_dir / name).is_file()]
        if missing:
            raise ValueError(f"lifecycle.base_data for route {route} lacks {missing} in {seeded.base_data}")
        names = [
            *BASE_DATA_FILES,
            *(name for name in OPTIONAL_BASE_DATA_FILES if (data_dir / name).is_file()),
        ]
        copies = {
            f"{BASE_DATA_PREFIX}/{route}/{name}": s3_assets.Asset(
                self, f"BaseData-{route}-{name}", path=str(data_dir / name)
            )
            for name in names
        }
        # The pipeline's feedback input must not be an empty prefix either (a job's S3 input with
        # no object under it fails), and before the first export there is no feedback: an empty
        # file, beside the one the export writes, that adds no row.
        copies[f"{FEEDBACK_PREFIX}/{route}/{NO_FEEDBACK_YET.name}"] = s3_assets.Asset(
            self, f"NoFeedbackYet-{route}", path=str(NO_FEEDBACK_YET)
        )
        if seeded.artifact is None:
            # A route serving an artifact the stack does not pack (model_data_url, a brought
            # model): its first retraining needs models/<route>/current/ put there by hand.
            Annotations.of(self).add_warning_v2(
                f"sluice:lifecycle-seed-{route}",
                f"lifecycle route {route} does not serve the model the stack packs: put its artifact at "
                f"{incumbent_key(route)} and its baseline under {BASELINE_PREFIX}/ before the first retraining",
            )
            return copies
        # The route serves the model the stack packs: it is the first incumbent, and its baseline
        # is the one the monitor needs for the version the endpoint starts with.
        version = served_model_version()
        baseline_file = MODEL_DIR / "baseline.json"
        baseline_version = (
            json.loads(baseline_file.read_text()).get("model_version") if baseline_file.is_file() else None
        )
        if baseline_version != version:
            raise ValueError(
                f"{baseline_file} is not the baseline of the model in {MODEL_DIR} ({version}): "
                "retrain with `make model`, or write it with model/baseline.py"
            )
        copies[incumbent_key(route)] = seeded.artifact
        copies[f"{BASELINE_PREFIX}/{version}/baseline.json"] = s3_assets.Asset(
            self, f"Baseline-{route}", path=str(baseline_file)
        )
        return copies

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
