"""Local (Docker-free) asset bundling: the Lambda layer and the SageMaker model artifact.

CDK calls `try_bundle` during synth. Results are cached under `.build/` keyed by a hash of
their inputs, so repeated synths (and tests) do not reinstall anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = "manylinux2014_x86_64"


def layer_requirements() -> list[str]:
    """The layer's pins are the project's runtime dependencies in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def _digest(*parts: str | Path) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            for file in sorted(p for p in part.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                digest.update(str(file.relative_to(part)).encode())
                digest.update(file.read_bytes())
        else:
            digest.update(part.encode())
    return digest.hexdigest()[:16]


@jsii.implements(ILocalBundling)
class LayerBundler:
    """pip-installs the runtime dependencies for Lambda's platform, plus the `sluice` package."""

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        requirements = layer_requirements()
        cache = ROOT / ".build" / f"layer-{_digest(*requirements, LAMBDA_PYTHON_VERSION)}"
        if not cache.exists():
            staging = cache.with_suffix(".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            subprocess.run(  # noqa: S603 - fixed argv, no shell
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-compile",
                    "--platform",
                    LAMBDA_PLATFORM,
                    "--implementation",
                    "cp",
                    "--python-version",
                    LAMBDA_PYTHON_VERSION,
                    "--only-binary=:all:",
                    "--target",
                    str(staging / "python"),
                    *requirements,
                ],
                check=True,
            )
            # boto3/botocore come with the Lambda runtime; a second copy only slows cold starts.
            for pattern in ("boto3*", "botocore*", "s3transfer*", "*.dist-info/RECORD"):
                for path in (staging / "python").glob(pattern):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
            staging.rename(cache)
        shutil.copytree(cache, output_dir, dirs_exist_ok=True)
        shutil.copytree(
            ROOT / "layers" / "sluice",
            Path(output_dir) / "python" / "sluice",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            dirs_exist_ok=True,
        )
        return True


@jsii.implements(ILocalBundling)
class ModelArtifactBundler:
    """Packs the trained model with the current `model/inference.py` and the wheels of its
    dependencies for the image's Python into model.tar.gz (model/package.py)."""

    def __init__(self, model_dir: Path) -> None:
        self._model_dir = model_dir

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        if not (self._model_dir / "metrics.json").exists():
            raise RuntimeError(
                f"No trained model in {self._model_dir}: run `make model`, or set "
                "routes[].endpoint.model_data_url in cdk.json to an existing model.tar.gz"
            )
        # The handler ships from the source tree, so a code change never needs a retrain.
        packager = model_packager()
        with tempfile.TemporaryDirectory() as staging:
            code = packager.stage_code(Path(staging), packager.fetch_wheels(packager.IMAGE_PYTHON))
            packager.package(self._model_dir, Path(output_dir) / "model.tar.gz", code)
        return True


@jsii.implements(ILocalBundling)
class ByoArtifactBundler:
    """Packs a route's own model directory with its kind's packer (model/byo.py): the handler,
    the wheels the image lacks for the image's Python, and the model files."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        byo = byo_packer()
        source = byo.Source(kind=self._source.kind, path=ROOT / self._source.path, task=self._source.task)
        if source.kind == "intent":
            ModelArtifactBundler(source.path).try_bundle(output_dir)
            return True
        byo.pack(source, Path(output_dir) / "model.tar.gz")  # refuses, naming why, what it cannot serve
        return True


def byo_packer() -> Any:
    """model/byo.py as a module (the packers of each model kind)."""
    spec = importlib.util.spec_from_file_location("sluice_model_byo", ROOT / "model" / "byo.py")
    if spec is None or spec.loader is None:
        raise ImportError("model/byo.py is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def model_packager() -> Any:
    """model/package.py as a module (model/ is the SageMaker source dir, not a package)."""
    spec = importlib.util.spec_from_file_location("sluice_model_package", ROOT / "model" / "package.py")
    if spec is None or spec.loader is None:
        raise ImportError("model/package.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
