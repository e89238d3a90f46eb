"""model/package.py: the artifact SageMaker serves, byte for byte reproducible."""

from __future__ import annotations

import importlib.util
import os
import tarfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def _package_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("model_package_under_test", ROOT / "model" / "package.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model_dir(path: Path) -> Path:
    for name in (
        "head.npz",
        "labels.json",
        "model.json",
        "metrics.json",
        "code/inference.py",
        "code/requirements.txt",
        "encoder/config.json",
    ):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(f"contents of {name}")
    return path


def test_the_same_model_packs_into_the_same_bytes_whenever_it_is_packed(tmp_path: Path) -> None:
    # Given a model dir packed once
    package = _package_module()
    model = _model_dir(tmp_path / "model")
    first = package.package(model, tmp_path / "first.tar.gz").read_bytes()

    # When its files are touched (a later checkout, a copied handler) and it is packed again
    for path in model.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = package.package(model, tmp_path / "second.tar.gz").read_bytes()

    # Then the archive is identical, so the CDK asset hash and the SageMaker Model do not change
    assert first == second
    with tarfile.open(tmp_path / "second.tar.gz") as archive:
        assert "code/inference.py" in archive.getnames()
