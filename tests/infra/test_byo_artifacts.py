"""The pre-deploy check, for every kind of model Sluice packs and for every configured route.

Each artifact is packed as synth packs it (model/byo.py), installed into an environment holding
only its image's packages, with no index and no network, and answers a batch of three and a batch
of one (the batching contract: N instances in, N predictions out). What it cannot serve is refused
with the reason: missing files, an unknown kind, an artifact over the limits, a handler that
breaks the batching contract, a joblib pickle from another scikit-learn.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sluice.config import ModelSource
from sluice_local.byo import SAMPLES, check, configured_models, packer
from sluice_local.platform import load_config
from tests.byo_models.fixtures import ROOT, build_example


def _needs_image_environments() -> None:
    for name in (".venv-container", ".venv-sklearn-image"):
        if not (ROOT / name / ".installed").exists():
            pytest.fail(f"{name} is missing: run `make setup`")


@pytest.mark.parametrize(
    ("kind", "task"),
    [
        ("transformers", "text-classification"),
        ("transformers", "token-classification"),
        ("transformers", "feature-extraction"),
        ("sklearn", None),
        ("pytorch", None),
    ],
)
def test_each_kind_of_example_model_passes_the_check(kind: str, task: str | None, tmp_path: Path) -> None:
    _needs_image_environments()
    # Given the tiny example model of this kind
    path = build_example(task or kind)
    # When it is packed and served offline in its image's environment
    result = check(ModelSource(kind=kind, path=path, task=task), work=tmp_path)  # type: ignore[arg-type]
    # Then it answers one prediction per text, in the shape of its task
    assert result.ok, result.reason
    batch, single = (answer["answer"] for answer in result.answers)
    assert len(batch["predictions"]) == len(SAMPLES)
    assert len(single["predictions"]) == 1
    first = batch["predictions"][0]
    if task == "token-classification":
        for entity in first["entities"]:
            assert 0 <= entity["start"] < entity["end"] <= len(SAMPLES[0])
            assert set(entity) == {"entity_type", "start", "end", "score"}  # offsets, never the text
    elif task == "feature-extraction":
        assert math.isclose(math.hypot(*first["embedding"]), 1.0, abs_tol=1e-3)
    elif kind in ("sklearn", "transformers"):
        assert {label["label"] for label in first["labels"]} == {"negative", "positive"}
    else:
        assert first["label"] in {"negative", "positive"}
    assert batch["model_version"]
    assert result.artifact_bytes > 0


def test_a_handler_that_breaks_the_batching_contract_is_refused(tmp_path: Path) -> None:
    _needs_image_environments()
    path = build_example("pytorch-unbatched")
    result = check(ModelSource(kind="pytorch", path=path), work=tmp_path)
    assert not result.ok
    assert "batching contract" in result.reason
    assert "1 outputs for 3 inputs" in result.reason


def test_a_joblib_pickle_from_another_scikit_learn_is_refused(tmp_path: Path) -> None:
    _needs_image_environments()
    # Given a pipeline pickled by this checkout's scikit-learn (1.9), not the image's (1.4.2)
    path = build_example("sklearn", "sklearn-other-version", python=Path(__import__("sys").executable))
    result = check(ModelSource(kind="sklearn", path=path), work=tmp_path)
    assert not result.ok
    assert "InconsistentVersionWarning" in result.reason


def test_an_artifact_over_the_limit_is_refused_before_it_is_packed(tmp_path: Path) -> None:
    path = build_example("pytorch")
    result = check(ModelSource(kind="pytorch", path=path), work=tmp_path, max_bytes=1000)
    assert not result.ok
    assert "over Sluice's packed-artifact limit" in result.reason
    assert not (tmp_path / "model.tar.gz").exists()


@pytest.mark.parametrize(
    ("kind", "task", "remove", "message"),
    [
        ("transformers", "text-classification", "config.json", "config.json is missing"),
        ("transformers", "text-classification", "model.safetensors", "no weights"),
        ("transformers", "text-classification", "vocab.txt", "no tokenizer files"),
        ("pytorch", None, "inference.py", "inference.py is missing"),
    ],
)
def test_a_model_dir_missing_its_files_is_refused(
    kind: str, task: str | None, remove: str, message: str, tmp_path: Path
) -> None:
    byo = packer()
    source_dir = ROOT / build_example(task or kind)
    broken = tmp_path / "model"
    __import__("shutil").copytree(source_dir, broken)
    for name in (remove, "tokenizer.json") if remove == "vocab.txt" else (remove,):
        (broken / name).unlink()
    problems = byo.validate(byo.Source(kind=kind, path=broken, task=task))
    assert any(message in problem for problem in problems), problems


def test_an_unknown_kind_and_an_unpinned_requirement_are_refused(tmp_path: Path) -> None:
    byo = packer()
    assert "unknown kind 'onnx'" in byo.validate(byo.Source(kind="onnx", path=tmp_path))[0]
    (tmp_path / "inference.py").write_text(
        "def model_fn(d): ...\ndef input_fn(b, c): ...\ndef predict_fn(d, m): ...\ndef output_fn(p, a): ...\n"
    )
    (tmp_path / "requirements.txt").write_text("xgboost\n")
    assert byo.validate(byo.Source(kind="pytorch", path=tmp_path)) == [
        "requirements.txt: 'xgboost' is not pinned (name==version)"
    ]


def test_packing_is_reproducible(tmp_path: Path) -> None:
    byo = packer()
    source = byo.Source(kind="pytorch", path=ROOT / build_example("pytorch"))
    first = byo.pack(source, tmp_path / "a.tar.gz").read_bytes()
    assert byo.pack(source, tmp_path / "b.tar.gz").read_bytes() == first


CONFIGURED = configured_models(load_config())


@pytest.mark.parametrize("route", sorted(CONFIGURED))
def test_every_configured_route_passes_the_check(route: str, tmp_path: Path) -> None:
    _needs_image_environments()
    model = CONFIGURED[route]
    if not (ROOT / model.path).exists():
        pytest.fail(f"route {route}: {model.path} is missing (run `make setup`)")
    result = check(model, work=tmp_path)
    assert result.ok, f"route {route}: {result.reason}"
