"""Entry point of the pipeline's processing steps: unpack the code, run one step.

SageMaker hands a processing job one script; the steps need the rest of model/ (inference.py for
the models, the golden set, the gate). The same sourcedir.tar.gz the training step runs from is an
input of every processing step; this unpacks it and runs `pipeline/<step>.py` with the step's
arguments, so training, preparation and evaluation all run one version of the code.

    python3 bootstrap.py evaluate --latency-budget-ms 1000
"""

from __future__ import annotations

import runpy
import subprocess
import sys
import tarfile
from pathlib import Path

# The `source` input's folder. SageMaker downloads an S3Prefix input under its own key name, and
# the stack's copy of sourcedir.tar.gz is a CDK asset named after its hash (<hash>.gz).
SOURCE = Path("/opt/ml/processing/input/source")
UNPACKED = Path("/opt/ml/processing/source")


def source_tarball(folder: Path = SOURCE) -> Path:
    """The one file of the `source` input, whatever its name."""
    files = sorted(path for path in folder.iterdir() if path.is_file())
    if len(files) != 1:
        raise SystemExit(f"expected the code tarball alone in {folder}, found {len(files)} files")
    return files[0]


STEPS = ("prepare", "evaluate")
# Steps that load the model need sentence-transformers, which the image lacks (prepare is stdlib only).
NEEDS_REQUIREMENTS = {"evaluate"}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in STEPS:
        print(f"usage: bootstrap.py {{{','.join(STEPS)}}} [arguments]", file=sys.stderr)
        return 2
    with tarfile.open(source_tarball()) as archive:
        archive.extractall(UNPACKED, filter="data")
    if argv[0] in NEEDS_REQUIREMENTS:
        subprocess.run(  # noqa: S603 - our own pinned requirements, in our own job
            [sys.executable, "-m", "pip", "install", "--quiet", "-r", str(UNPACKED / "requirements.txt")],
            check=True,
        )
    script = UNPACKED / "pipeline" / f"{argv[0]}.py"
    sys.argv = [str(script), *argv[1:]]
    sys.path.insert(0, str(UNPACKED))
    runpy.run_path(str(script), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
