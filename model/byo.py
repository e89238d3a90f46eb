"""Bring your own model: validate a model directory, stage it as the container sees it, pack it.

One packer per kind (`sluice.config.ModelKind`), each making a reproducible `model.tar.gz` with
everything its container needs offline (the endpoint runs with network isolation):

  kind          the user provides                          image                      code/inference.py
  transformers  a transformers model dir (config.json,     PyTorch inference 2.6.0    model/handlers/hf_transformers.py
                weights, tokenizer) and its task
  sklearn       model.joblib (a pipeline over raw texts)    SKLearn 1.4-2-py312        model/handlers/sklearn_joblib.py
  pytorch       inference.py (SageMaker's handler) and      PyTorch inference 2.6.0    the user's inference.py
                whatever files it loads

A `requirements.txt` in the model dir (pinned, `name==version`) is shipped as wheels in code/wheels
with a code/requirements.txt that installs them with --no-index, as model/package.py does for the
default model; the transformers kind ships the default model's lock (transformers, tokenizers ...).

    .venv/bin/python model/byo.py pack --kind sklearn --path tests/.../model --output model.tar.gz
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = {
    "intent": ROOT / "model" / "inference.py",
    "transformers": ROOT / "model" / "handlers" / "hf_transformers.py",
    "sklearn": ROOT / "model" / "handlers" / "sklearn_joblib.py",
}
MANIFEST = "sluice-model.json"
KINDS = ("intent", "transformers", "sklearn", "pytorch")
TASKS = ("text-classification", "token-classification", "feature-extraction")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "vocab.json")
# Each kind's image, as sluice.config.FrameworkImage fields, and its Python (for the wheels).
IMAGES: dict[str, dict[str, Any]] = {
    "pytorch": {"framework": "pytorch", "version": "2.6.0", "py_version": "py312", "python": "3.12"},
    "sklearn": {"framework": "sklearn", "version": "1.4-2-py312", "py_version": "py3", "python": "3.12"},
}
# The packages each image holds, for the pre-deploy check (model/container/*.txt).
IMAGE_PACKAGES = {
    "pytorch": ROOT / "model" / "container" / "pytorch-inference-2.6.0-gpu-py312.txt",
    "sklearn": ROOT / "model" / "container" / "sagemaker-scikit-learn-1.4-2-py312-cpu-py3.txt",
}
IMAGE_ENVIRONMENTS = {"pytorch": ROOT / ".venv-container", "sklearn": ROOT / ".venv-sklearn-image"}

# --- limits, each with where it comes from -------------------------------------------------------
# ProductionVariant.VolumeSizeInGB, the storage that holds the unpacked artifact on an EBS-only
# instance, is at most 512 GB ("Valid Range: Minimum value of 1. Maximum value of 512."):
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html
# SageMaker downloads and unpacks the artifact within ModelDataDownloadTimeoutInSeconds (at most
# 3600 s, same page); Sluice's own ceiling is far lower so that a deploy never waits on that:
# 20 GiB packed. A route with a larger model names its own artifact (model_data_url).
MAX_ARTIFACT_BYTES = 20 * 1024**3
MAX_UNPACKED_BYTES = 512 * 1000**3
# InvokeEndpoint's body, request and response, is at most 6 MB ("Length Constraints: Maximum
# length of 6291456"): https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html
# and a synchronous Lambda invocation returns at most 6 MB:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_RESPONSE_BYTES = 6 * 1024 * 1024


class Refused(ValueError):
    """A model Sluice cannot serve as given; the message says what to change."""


@dataclass(frozen=True)
class Source:
    kind: str
    path: Path
    task: str | None = None

    @property
    def image(self) -> str:
        return "sklearn" if self.kind == "sklearn" else "pytorch"


def _package_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sluice_model_package", ROOT / "model" / "package.py")
    if spec is None or spec.loader is None:
        raise ImportError("model/package.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def handler_for(source: Source) -> Path:
    return source.path / "inference.py" if source.kind == "pytorch" else HANDLERS[source.kind]


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def validate(source: Source, *, max_bytes: int = MAX_ARTIFACT_BYTES) -> list[str]:
    """The refusals for a model directory, before anything is packed (empty: it may be packed)."""
    if source.kind not in KINDS:
        return [f"unknown kind {source.kind!r}: expected one of {', '.join(KINDS[1:])}"]
    root = source.path
    if not root.is_dir():
        return [f"{root} is not a directory"]
    present = {p.relative_to(root).as_posix() for p in _files(root)}
    problems = []
    if source.kind == "transformers":
        if source.task not in TASKS:
            problems.append(f"a transformers model needs --task, one of {', '.join(TASKS)}")
        if "config.json" not in present:
            problems.append("config.json is missing (save the model with save_pretrained)")
        if not present & set(WEIGHT_FILES):
            problems.append(f"no weights: expected one of {', '.join(WEIGHT_FILES)}")
        if not present & set(TOKENIZER_FILES):
            problems.append("no tokenizer files: save the tokenizer with save_pretrained beside the model")
    elif source.kind == "sklearn" and "model.joblib" not in present:
        problems.append("model.joblib is missing (joblib.dump(pipeline, 'model.joblib'))")
    elif source.kind == "pytorch":
        if "inference.py" not in present:
            problems.append(
                "inference.py is missing (SageMaker's handler: model_fn, input_fn, predict_fn, output_fn)"
            )
        else:
            code = (root / "inference.py").read_text(errors="replace")
            missing = [
                fn for fn in ("model_fn", "input_fn", "predict_fn", "output_fn") if f"def {fn}(" not in code
            ]
            if missing:
                problems.append(f"inference.py lacks {', '.join(missing)}")
    if source.kind != "transformers" and source.task is not None:
        problems.append("only a transformers model takes a task")
    size = sum(p.stat().st_size for p in _files(root))
    if size > max_bytes:
        problems.append(
            f"the model is {size / 1e9:.2f} GB, over Sluice's packed-artifact limit of {max_bytes / 1e9:.2f} GB "
            "(see model/byo.py: host it from S3 with model_data_url instead)"
        )
    if (root / "requirements.txt").is_file():
        for line in _requirements(root / "requirements.txt"):
            if "==" not in line:
                problems.append(f"requirements.txt: {line!r} is not pinned (name==version)")
    return problems


def _requirements(path: Path) -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def model_version(source: Source) -> str:
    """A digest of the model's files: the same model always reports the same version."""
    digest = hashlib.sha256()
    for file in _files(source.path):
        digest.update(file.relative_to(source.path).as_posix().encode())
        digest.update(file.read_bytes())
    return f"{source.kind}-{digest.hexdigest()[:12]}"


def stage_model(source: Source, dest: Path) -> Path:
    """The model dir as the container's /opt/ml/model sees it, without code/: the model files
    (linked, not copied) and sluice-model.json. The local endpoint serves this directory."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for entry in sorted(source.path.iterdir()):
        if source.kind == "pytorch" and entry.name in ("inference.py", "requirements.txt"):
            continue  # they go to code/
        if entry.name in ("code", "__pycache__", MANIFEST):
            continue
        os.symlink(entry.resolve(), dest / entry.name)
    manifest = {"kind": source.kind, "task": source.task, "model_version": model_version(source)}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return dest


def fetch_wheels(requirements: list[str], python_version: str) -> Path:
    """Wheels of `requirements` (pinned) for `python_version` on Linux x86_64, cached in .build/."""
    packager = _package_module()
    key = hashlib.sha256("\n".join([*requirements, python_version, *packager.WHEEL_PLATFORMS]).encode())
    cache = packager.WHEEL_CACHE / f"byo-wheels-py{python_version}-{key.hexdigest()[:12]}"
    if cache.exists():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache.parent))
    platforms = [arg for platform in packager.WHEEL_PLATFORMS for arg in ("--platform", platform)]
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--implementation", "cp", "--python-version", python_version, *platforms,
         "--dest", str(staging), *requirements],
        check=True,
    )  # fmt: skip
    staging.rename(cache)
    return cache


def stage_code(source: Source, dest: Path, python_version: str) -> Path:
    """dest/code: the kind's handler as inference.py, and the wheels of what the image lacks."""
    code = dest / "code"
    code.mkdir(parents=True)
    shutil.copy2(handler_for(source), code / "inference.py")
    requirements: list[str] = []
    wheel_dirs: list[Path] = []
    if source.kind in ("transformers", "intent"):
        packager = _package_module()
        requirements += packager.pinned_requirements()
        wheel_dirs.append(packager.fetch_wheels(python_version))
    own = source.path / "requirements.txt"
    if own.is_file() and _requirements(own):
        requirements += _requirements(own)
        wheel_dirs.append(fetch_wheels(_requirements(own), python_version))
    if requirements:
        (code / "wheels").mkdir()
        for wheel in sorted(w for directory in wheel_dirs for w in directory.glob("*.whl")):
            shutil.copy2(wheel, code / "wheels" / wheel.name)
        (code / "requirements.txt").write_text(
            "# Installed by the container at start, offline: the wheels are in code/wheels.\n"
            "--no-index\n--find-links wheels\n" + "\n".join(requirements) + "\n"
        )
    return code


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # No owner, ids or times from the build machine: the same model always makes the same bytes.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def pack(
    source: Source,
    output: Path,
    *,
    python_version: str | None = None,
    max_bytes: int = MAX_ARTIFACT_BYTES,
    compresslevel: int = 9,
) -> Path:
    """Validate, then write model.tar.gz: the model files at the root, the handler and wheels in code/."""
    problems = validate(source, max_bytes=max_bytes)
    if problems:
        raise Refused(f"{source.path} cannot be served: " + "; ".join(problems))
    python_version = python_version or IMAGES[source.image]["python"]
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with tempfile.TemporaryDirectory() as staging:
        root = Path(staging)
        stage_model(source, root / "model")
        stage_code(source, root / "model", python_version)
        files = _files(root / "model")
        unpacked = sum(p.stat().st_size for p in files)
        if unpacked > MAX_UNPACKED_BYTES:
            raise Refused(f"the artifact unpacks to {unpacked / 1e9:.0f} GB, over SageMaker's 512 GB volume")
        with (
            partial.open("wb") as raw,
            gzip.GzipFile(
                filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=compresslevel
            ) as compressed,
            tarfile.open(fileobj=compressed, mode="w", dereference=True) as archive,
        ):
            for path in files:
                archive.add(path, arcname=path.relative_to(root / "model").as_posix(), filter=_normalised)
    if partial.stat().st_size > max_bytes:
        size = partial.stat().st_size
        partial.unlink()
        raise Refused(f"model.tar.gz is {size / 1e9:.2f} GB, over the limit of {max_bytes / 1e9:.2f} GB")
    partial.replace(output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["validate", "pack"])
    parser.add_argument("--kind", required=True, choices=KINDS[1:])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--output", type=Path, default=Path("model.tar.gz"))
    args = parser.parse_args(argv)
    source = Source(kind=args.kind, path=args.path, task=args.task)
    try:
        if args.command == "validate":
            problems = validate(source)
            if problems:
                raise Refused("; ".join(problems))
            print(f"{source.path}: a {source.kind} model Sluice can pack")
        else:
            archive = pack(source, args.output)
            print(f"{archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    except Refused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
