"""`make new-route` refuses, with a clear message and cdk.json untouched, what it cannot serve."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sluice_local.byo import Refusal, guess_kind, main, new_route
from tests.byo_models.fixtures import ROOT, build_example


@pytest.fixture
def cdk_json(tmp_path: Path) -> Path:
    path = tmp_path / "cdk.json"
    shutil.copy2(ROOT / "cdk.json", path)
    return path


def _refused(cdk_json: Path, path: Path, **options: object) -> str:
    before = cdk_json.read_text()
    with pytest.raises(Refusal) as refusal:
        new_route("newroute", path, cdk_json=cdk_json, smoke=False, echo=lambda _: None, **options)  # type: ignore[arg-type]
    assert cdk_json.read_text() == before  # nothing written
    return str(refusal.value)


def test_an_unknown_format_is_refused(cdk_json: Path, tmp_path: Path) -> None:
    model = ROOT / ".sluice" / "test-models" / "unknown-format"
    model.mkdir(parents=True, exist_ok=True)
    (model / "weights.onnx").write_bytes(b"\0")
    assert "unknown format" in _refused(cdk_json, model, kind=None, task=None)
    assert "unknown kind 'onnx'" in _refused(cdk_json, model, kind="onnx", task=None)


def test_missing_files_are_named(cdk_json: Path) -> None:
    model = ROOT / ".sluice" / "test-models" / "no-weights"
    shutil.rmtree(model, ignore_errors=True)
    shutil.copytree(ROOT / build_example("text-classification"), model)
    (model / "model.safetensors").unlink()
    assert "no weights" in _refused(cdk_json, model, kind=None, task=None)


def test_a_model_outside_the_checkout_is_refused(cdk_json: Path, tmp_path: Path) -> None:
    outside = tmp_path / "model"
    shutil.copytree(ROOT / build_example("pytorch"), outside)
    assert "outside this checkout" in _refused(cdk_json, outside, kind=None, task=None)


def test_an_existing_route_name_is_refused(cdk_json: Path) -> None:
    with pytest.raises(Refusal, match="route intent exists"):
        new_route(
            "intent", ROOT / build_example("pytorch"), kind=None, task=None, cdk_json=cdk_json, smoke=False,
            echo=lambda _: None,
        )  # fmt: skip


def test_a_handler_that_breaks_the_batching_contract_is_refused(cdk_json: Path) -> None:
    reason = _refused(cdk_json, ROOT / build_example("pytorch-unbatched"), kind=None, task=None)
    assert "pre-deploy check failed" in reason
    assert "batching contract" in reason


def test_the_command_line_exits_2_with_the_reason(cdk_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["new-route", "--name", "x", "--model", "/nonexistent", "--cdk-json", str(cdk_json), "--no-smoke"]
    )
    assert status == 2
    assert "refused: /nonexistent is not a directory" in capsys.readouterr().err


def test_the_kind_is_read_from_the_files() -> None:
    assert guess_kind(ROOT / build_example("token-classification")) == (
        "transformers",
        "token-classification",
    )
    assert guess_kind(ROOT / build_example("feature-extraction")) == ("transformers", "feature-extraction")
    assert guess_kind(ROOT / build_example("sklearn")) == ("sklearn", None)
    assert guess_kind(ROOT / build_example("pytorch")) == ("pytorch", None)
