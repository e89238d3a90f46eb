"""The retraining pipeline's code, as the one tarball every step runs from (sourcedir.tar.gz).

Built at synth from the working tree, byte for byte reproducible (sorted entries, zero mtimes,
no owner), so its digest is the pipeline's code version and an unchanged tree uploads nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "model"
# archive name -> file in the tree
SOURCE_FILES = {
    "train.py": MODEL / "train.py",
    "inference.py": MODEL / "inference.py",
    "baseline.py": MODEL / "baseline.py",
    "requirements.txt": MODEL / "pipeline" / "requirements.txt",
    "pipeline/prepare.py": MODEL / "pipeline" / "prepare.py",
    "pipeline/evaluate.py": MODEL / "pipeline" / "evaluate.py",
    "pipeline/bootstrap.py": MODEL / "pipeline" / "bootstrap.py",
    # The gate is library code; the evaluation step imports it from beside evaluate.py.
    "pipeline/gate.py": ROOT / "layers" / "sluice" / "lifecycle" / "gate.py",
    "golden/intent.jsonl": MODEL / "golden" / "intent.jsonl",
    # The training job packs the candidate's serving code with these (model/train.py,
    # stage_serving_code); package.py finds its lock and handler under model/ from its own place.
    "model/package.py": MODEL / "package.py",
    "model/inference.py": MODEL / "inference.py",
    "model/requirements.txt": MODEL / "requirements.txt",
}


def build_source_tarball(output_dir: Path) -> tuple[Path, str]:
    """Writes `<output_dir>/sourcedir.tar.gz`; returns its path and its SHA-256 (the code version)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(SOURCE_FILES):
            data = SOURCE_FILES[name].read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    compressed = gzip.compress(buffer.getvalue(), mtime=0)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "sourcedir.tar.gz"
    if not path.exists() or path.read_bytes() != compressed:
        path.write_bytes(compressed)
    return path, hashlib.sha256(compressed).hexdigest()
