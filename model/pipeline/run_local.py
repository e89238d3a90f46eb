"""`make retrain`: the retraining pipeline's own definition, executed step by step on this machine.

The definition is the one the stack deploys (`infra.lifecycle_pipeline.pipeline_definition`), built
for local locations: `s3://local/<path>` stands for `.sluice/lifecycle/<path>`. Steps run in the
definition's order, with the definition's arguments, through the same scripts SageMaker runs
(prepare.py, train.py, evaluate.py); the condition reads the evaluation's property file as
SageMaker's JsonGet does. A registered candidate is appended to the model package group's local
registry (`.sluice/lifecycle/registry/<group>.json`: version, approval, metrics, dataset hash, code
version); a rejected one ends the run with the gate's report, as the pipeline's Fail step does.

    .venv/bin/python model/pipeline/run_local.py [--feedback DIR] [--incumbent MODEL_DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "layers")]
LOCAL = ROOT / ".sluice" / "lifecycle"
BUCKET = "s3://local"
_OUTPUT = re.compile(
    r"^Steps\.(?P<step>\w+)\.ProcessingOutputConfig\.Outputs\['(?P<name>\w+)'\]\.S3Output\.S3Uri$"
)


def local_path(uri: str) -> Path:
    if not uri.startswith(BUCKET + "/"):
        raise ValueError(f"not a local location: {uri}")
    return LOCAL / uri.removeprefix(BUCKET + "/")


class Execution:
    """One run: parameter values, the execution id, and what each finished step produced."""

    def __init__(self, definition: dict[str, Any], overrides: dict[str, str], execution_id: str) -> None:
        self.parameters = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]} | overrides
        self.execution_id = execution_id
        self.outputs: dict[tuple[str, str], str] = {}  # (step, output name) -> uri
        self.model_artifacts: dict[str, str] = {}  # training step -> model dir uri
        self.property_files: dict[tuple[str, str], Path] = {}  # (step, property file) -> local file

    def resolve(self, value: Any) -> Any:
        """A definition value with its expressions (Get, Std:Join, Std:JsonGet) evaluated."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "Std:Join" in value:
            join = value["Std:Join"]
            return str(join["On"]).join(str(self.resolve(part)) for part in join["Values"])
        if "Std:JsonGet" in value:
            get = value["Std:JsonGet"]
            step, _, name = get["PropertyFile"]["Get"].removeprefix("Steps.").partition(".PropertyFiles.")
            document: Any = json.loads(self.property_files[(step, name)].read_text())
            for part in get["Path"].split("."):
                document = document[part]
            return document
        if "Get" in value:
            return self._get(value["Get"])
        return {key: self.resolve(item) for key, item in value.items()}

    def _get(self, path: str) -> Any:
        if path.startswith("Parameters."):
            return self.parameters[path.removeprefix("Parameters.")]
        if path == "Execution.PipelineExecutionId":
            return self.execution_id
        if match := _OUTPUT.match(path):
            return self.outputs[(match["step"], match["name"])]
        if path.endswith(".ModelArtifacts.S3ModelArtifacts"):
            return self.model_artifacts[path.removeprefix("Steps.").split(".")[0]]
        raise ValueError(f"unsupported expression: {path}")


StepRunner = Callable[[dict[str, Any], Execution], str | None]


def run(
    definition: dict[str, Any], execution: Execution, runners: dict[str, StepRunner]
) -> list[tuple[str, str]]:
    """Runs the steps in order, taking the branch a condition picks; returns (step, outcome) pairs."""
    trace: list[tuple[str, str]] = []
    queue = list(definition["Steps"])
    while queue:
        step = queue.pop(0)
        if step["Type"] == "Condition":
            holds = all(_condition(condition, execution) for condition in step["Arguments"]["Conditions"])
            trace.append((step["Name"], "true" if holds else "false"))
            queue[:0] = step["Arguments"]["IfSteps" if holds else "ElseSteps"]
            continue
        started = time.perf_counter()
        print(f"==> step {step['Name']} ({step['Type']})", flush=True)
        outcome = runners[step["Type"]](step, execution) or "succeeded"
        trace.append((step["Name"], outcome))
        print(f"    {step['Name']}: {outcome} in {time.perf_counter() - started:.0f} s", flush=True)
        if outcome.startswith("failed"):
            break
    return trace


def _condition(condition: dict[str, Any], execution: Execution) -> bool:
    left, right = execution.resolve(condition["LeftValue"]), execution.resolve(condition["RightValue"])
    if condition["Type"] == "Equals":
        return bool(left == right)
    raise ValueError(f"unsupported condition: {condition['Type']}")


# --- the steps, run as SageMaker would run them ----------------------------------------------------


def run_processing(step: dict[str, Any], execution: Execution) -> str | None:
    arguments = execution.resolve(step["Arguments"])
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in arguments["ProcessingInputs"]}
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"] for o in arguments["ProcessingOutputConfig"]["Outputs"]
    }
    container = arguments["AppSpecification"]
    script, *flags = container["ContainerArguments"]  # bootstrap.py's: the step, then its own flags
    paths = {name: local_path(uri) for name, uri in outputs.items()}
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    if script == "prepare":
        # prepare.py writes train/, test/ and manifest/ under one folder: the outputs' common parent.
        [parent] = {path.parent for path in paths.values()}
        command = [
            "--base",
            str(local_path(inputs["base"])),
            "--feedback",
            str(local_path(inputs["feedback"])),
            "--output",
            str(parent),
        ]
    elif script == "evaluate":
        command = [
            "--candidate", str(local_path(inputs["candidate"])),
            "--incumbent", str(local_path(inputs["incumbent"])),
            "--output", str(paths["evaluation"]),
        ]  # fmt: skip
    else:
        raise ValueError(f"unknown processing step script: {script}")
    _python(ROOT / "model" / "pipeline" / f"{script}.py", [*command, *flags])
    for name, uri in outputs.items():
        execution.outputs[(step["Name"], name)] = uri
    for file in step.get("PropertyFiles", []):
        execution.property_files[(step["Name"], file["PropertyFileName"])] = (
            local_path(outputs[file["OutputName"]]) / file["FilePath"]
        )
    return None


def run_training(step: dict[str, Any], execution: Execution) -> str | None:
    arguments = execution.resolve(step["Arguments"])
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in arguments["InputDataConfig"]
    }
    model_uri = f"{arguments['OutputDataConfig']['S3OutputPath']}/model"
    model_dir = local_path(model_uri)
    shutil.rmtree(model_dir, ignore_errors=True)
    script = arguments["HyperParameters"]["sagemaker_program"]
    _python(
        ROOT / "model" / script,
        [
            "--train",
            str(local_path(channels["train"])),
            "--test",
            str(local_path(channels["test"])),
            "--model-dir",
            str(model_dir),
        ],
    )
    execution.model_artifacts[step["Name"]] = model_uri
    return None


def run_registration(step: dict[str, Any], execution: Execution) -> str | None:
    arguments = execution.resolve(step["Arguments"])
    group = arguments["ModelPackageGroupName"]
    registry = LOCAL / "registry" / f"{group}.json"
    registry.parent.mkdir(parents=True, exist_ok=True)
    packages = json.loads(registry.read_text()) if registry.exists() else []
    container = arguments["InferenceSpecification"]["Containers"][0]
    metrics_uri = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    package = {
        "version": len(packages) + 1,
        "approval": arguments["ModelApprovalStatus"],
        "model_data": str(local_path(container["ModelDataUrl"])),
        "model_version": json.loads((local_path(container["ModelDataUrl"]) / "model.json").read_text())[
            "model_version"
        ],
        "metrics": json.loads(local_path(metrics_uri).read_text())["metrics"],
        "metadata": arguments["CustomerMetadataProperties"],
        "execution": execution.execution_id,
    }
    packages.append(package)
    registry.write_text(json.dumps(packages, indent=1) + "\n")
    return f"registered {group} version {package['version']} ({package['approval']})"


def run_fail(step: dict[str, Any], execution: Execution) -> str | None:
    return f"failed: {execution.resolve(step['Arguments']['ErrorMessage'])}"


RUNNERS: dict[str, StepRunner] = {
    "Processing": run_processing,
    "Training": run_training,
    "RegisterModel": run_registration,
    "Fail": run_fail,
}


def _python(script: Path, arguments: list[str]) -> None:
    subprocess.run([sys.executable, str(script), *arguments], check=True)  # noqa: S603 - our own scripts


def local_definition(route: str = "intent") -> dict[str, Any]:
    from infra.lifecycle_code import build_source_tarball
    from infra.lifecycle_pipeline import PipelineSpec, pipeline_definition

    _, code_version = build_source_tarball(LOCAL / "code")
    return pipeline_definition(
        PipelineSpec(
            name=f"sluice-local-retrain-{route}",
            role_arn="arn:aws:iam::123456789012:role/sluice-local-pipeline",
            processing_image="local",
            training_image="local",
            inference_image="local",
            source_uri=f"{BUCKET}/code/sourcedir.tar.gz",
            bootstrap_uri=f"{BUCKET}/code/bootstrap.py",
            artifacts_uri=f"{BUCKET}/runs/{route}",
            base_data_uri=f"{BUCKET}/data/base/{route}",
            feedback_uri=f"{BUCKET}/data/feedback/{route}",
            incumbent_model_uri=f"{BUCKET}/models/{route}/current",
            model_package_group=f"sluice-local-{route}",
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/local",
            code_version=code_version[:16],
        )
    )


def main(argv: list[str] | None = None) -> int:
    global LOCAL
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", type=Path, default=ROOT / "data" / "banking77", help="base training data")
    parser.add_argument("--feedback", type=Path, help="labelled feedback (JSON lines) to add")
    parser.add_argument(
        "--incumbent",
        type=Path,
        help="the model in service (default: the version a local rollout last promoted, else .sluice/model)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=LOCAL, help="what s3://local/ stands for (runs, registry, code)"
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pipeline parameter's value for this run, as StartPipelineExecution takes them",
    )
    args = parser.parse_args(argv)
    LOCAL = args.workdir  # `make drift-demo` keeps its runs and registry apart from `make retrain`'s
    if args.incumbent is None:
        sys.path.insert(0, str(ROOT / "local"))
        from sluice_local.local_deploy import local_incumbent

        # As in AWS, where the deploy function copies a promoted version to models/<route>/current.
        args.incumbent = local_incumbent("intent") or ROOT / ".sluice" / "model"

    definition = local_definition()
    # Stage the inputs where the definition's default locations point.
    for uri, source in (
        (f"{BUCKET}/data/base/intent", args.base),
        (f"{BUCKET}/data/feedback/intent", args.feedback),
        (f"{BUCKET}/models/intent/current", args.incumbent),
    ):
        target = local_path(uri)
        shutil.rmtree(target, ignore_errors=True)
        if source is not None and source.exists():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("encoder"))
            if (source / "encoder").exists():
                (target / "encoder").symlink_to((source / "encoder").resolve())
        else:
            target.mkdir(parents=True)
    overrides = dict(item.split("=", 1) for item in args.parameter)
    unknown = set(overrides) - {parameter["Name"] for parameter in definition["Parameters"]}
    if unknown:
        parser.error(f"the pipeline has no parameter {', '.join(sorted(unknown))}")
    execution = Execution(definition, overrides, execution_id=time.strftime("local-%Y%m%d-%H%M%S"))
    trace = run(definition, execution, RUNNERS)
    print(json.dumps({"execution": execution.execution_id, "steps": trace}, indent=1))
    return 1 if trace and trace[-1][1].startswith("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
