"""`make retrain` walks the deployed definition: steps in order, expressions resolved, the gate's
verdict choosing registration or failure. Steps are recorded here, not run (training takes minutes)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_local", ROOT / "model" / "pipeline" / "run_local.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    from infra.lifecycle_pipeline import PipelineSpec, pipeline_definition

    return pipeline_definition(
        PipelineSpec(
            name="local",
            role_arn="arn:aws:iam::123456789012:role/r",
            processing_image="local",
            training_image="local",
            inference_image="local",
            source_uri="s3://local/code/sourcedir.tar.gz",
            bootstrap_uri="s3://local/code/bootstrap.py",
            artifacts_uri="s3://local/runs/intent",
            base_data_uri="s3://local/data/base/intent",
            feedback_uri="s3://local/data/feedback/intent",
            incumbent_model_uri="s3://local/models/intent/current",
            model_package_group="local-intent",
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
            code_version="c0de",
        )
    )


def recording_runners(
    runner: ModuleType, tmp_path: Path, approved: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def processing(step: dict[str, Any], execution: Any) -> None:
        arguments = execution.resolve(step["Arguments"])
        calls.append({"step": step["Name"], "arguments": arguments})
        for output in arguments["ProcessingOutputConfig"]["Outputs"]:
            execution.outputs[(step["Name"], output["OutputName"])] = output["S3Output"]["S3Uri"]
        for file in step.get("PropertyFiles", []):
            path = tmp_path / f"{step['Name']}-{file['PropertyFileName']}.json"
            path.write_text(
                json.dumps(
                    {
                        "approved": approved,
                        "dataset_hash": "d" * 64,
                        "metrics": {"golden_accuracy": {"value": 0.9}},
                    }
                )
            )
            execution.property_files[(step["Name"], file["PropertyFileName"])] = path

    def training(step: dict[str, Any], execution: Any) -> None:
        calls.append({"step": step["Name"], "arguments": execution.resolve(step["Arguments"])})
        execution.model_artifacts[step["Name"]] = "s3://local/runs/intent/x/model/model"

    def register(step: dict[str, Any], execution: Any) -> str:
        calls.append({"step": step["Name"], "arguments": execution.resolve(step["Arguments"])})
        return "registered"

    def fail(step: dict[str, Any], execution: Any) -> str:
        return runner.run_fail(step, execution)  # type: ignore[no-any-return]

    return {"Processing": processing, "Training": training, "RegisterModel": register, "Fail": fail}, calls


def test_an_approved_candidate_is_registered_with_its_dataset_hash(
    runner: ModuleType, definition: dict[str, Any], tmp_path: Path
) -> None:
    # Given a run whose evaluation approves the candidate
    runners, calls = recording_runners(runner, tmp_path, approved=1)
    execution = runner.Execution(definition, {}, execution_id="exec-1")
    # When the local runner walks the definition
    trace = runner.run(definition, execution, runners)
    # Then the steps ran in order, each with its resolved arguments, and the candidate was registered
    assert trace == [
        ("PrepareData", "succeeded"),
        ("Train", "succeeded"),
        ("EvaluateOnGolden", "succeeded"),
        ("GateApproved", "true"),
        ("RegisterCandidate", "registered"),
    ]
    train = calls[1]["arguments"]
    assert (
        train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        == "s3://local/runs/intent/exec-1/train"
    )
    evaluate = calls[2]["arguments"]
    candidate = next(i for i in evaluate["ProcessingInputs"] if i["InputName"] == "candidate")
    assert candidate["S3Input"]["S3Uri"] == "s3://local/runs/intent/x/model/model"
    register = calls[3]["arguments"]
    assert register["CustomerMetadataProperties"] == {
        "dataset_hash": "d" * 64,
        "code_version": "c0de",
        "golden_accuracy": "0.9",  # CustomerMetadataProperties holds strings
    }


def test_a_rejected_candidate_ends_the_run_with_the_report_location(
    runner: ModuleType, definition: dict[str, Any], tmp_path: Path
) -> None:
    runners, calls = recording_runners(runner, tmp_path, approved=0)
    trace = runner.run(definition, runner.Execution(definition, {}, execution_id="exec-2"), runners)
    assert trace[-2] == ("GateApproved", "false")
    step, outcome = trace[-1]
    assert step == "GateRejected"
    assert (
        outcome
        == "failed: golden-query gate rejected the candidate; report: s3://local/runs/intent/exec-2/evaluation"
    )
    assert "RegisterCandidate" not in [call["step"] for call in calls]


def test_local_locations_map_into_the_lifecycle_folder(runner: ModuleType) -> None:
    assert (
        runner.local_path("s3://local/runs/intent/e/train")
        == ROOT / ".sluice" / "lifecycle" / "runs" / "intent" / "e" / "train"
    )
    with pytest.raises(ValueError, match="not a local location"):
        runner.local_path("s3://elsewhere/x")


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"pipeline_{name}", ROOT / "model" / "pipeline" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("step_name", "script"), [("PrepareData", "prepare"), ("EvaluateOnGolden", "evaluate")]
)
def test_each_processing_script_reads_and_writes_where_its_step_stages_the_data(
    definition: dict[str, Any], step_name: str, script: str
) -> None:
    # In SageMaker the step's arguments carry no paths: the script's defaults must be the local
    # paths the ProcessingInputs are downloaded to and the ProcessingOutputs uploaded from
    # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Input.html: LocalPath).
    [step] = [step for step in definition["Steps"] if step["Name"] == step_name]
    arguments = step["Arguments"]
    inputs = {item["InputName"]: item["S3Input"]["LocalPath"] for item in arguments["ProcessingInputs"]}
    outputs = {
        item["OutputName"]: item["S3Output"]["LocalPath"]
        for item in arguments["ProcessingOutputConfig"]["Outputs"]
    }
    defaults = vars(load_script(script).build_parser().parse_args([]))
    for name, local_path in inputs.items():
        if name not in ("source", "code"):  # the SDK stages bootstrap.py as `code`; it unpacks `source`
            assert str(defaults[name]) == local_path, name
    if script == "evaluate":
        assert {str(defaults["output"])} == set(outputs.values())
    else:  # prepare writes <output>/<name>/ for each of its outputs
        assert {f"{defaults['output']}/{name}" for name in outputs} == set(outputs.values())


def test_a_processing_step_finds_its_code_tarball_under_the_assets_hashed_name(tmp_path: Path) -> None:
    # The stack's sourcedir.tar.gz is a CDK asset (<hash>.gz); SageMaker downloads an S3Prefix
    # input under the object's own name.
    bootstrap = load_script("bootstrap")
    (tmp_path / "7b28e02a.gz").write_bytes(b"")
    assert bootstrap.source_tarball(tmp_path) == tmp_path / "7b28e02a.gz"
    (tmp_path / "other.gz").write_bytes(b"")
    with pytest.raises(SystemExit, match="alone"):
        bootstrap.source_tarball(tmp_path)


def test_a_candidate_trained_in_sagemaker_carries_its_serving_code_for_an_offline_endpoint(
    tmp_path: Path,
) -> None:
    # The endpoint runs with network isolation and its image lacks sentence-transformers: the
    # artifact must hold the handler, the wheels and an offline requirements.txt (model/package.py)
    spec = importlib.util.spec_from_file_location("pipeline_train", ROOT / "model" / "train.py")
    assert spec is not None
    assert spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    package = load_module(ROOT / "model" / "package.py")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "sentence_transformers-5.0.0-py3-none-any.whl").write_bytes(b"wheel")
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text("# the local copy train.py writes")
    train.stage_serving_code(model_dir, wheels)
    for required in package.CODE_REQUIRED:
        assert (model_dir / required).is_file(), required
    requirements = (model_dir / "code" / "requirements.txt").read_text()
    assert "--no-index" in requirements
    assert (model_dir / "code" / "wheels" / "sentence_transformers-5.0.0-py3-none-any.whl").exists()
    assert (model_dir / "code" / "inference.py").read_text() == (ROOT / "model" / "inference.py").read_text()


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
