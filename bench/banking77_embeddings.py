"""Sentence embeddings of every Banking77 row, computed once and cached under .sluice/cache.

Encoding the 13,083 rows takes about five minutes on two CPU cores, and every drift method the
bench compares needs them (the confidence methods through a head fitted on them), so they are
computed once per (data, encoder) pair and reused by `make drift-bench` and `make drift-demo`.

    .venv/bin/python bench/banking77_embeddings.py   # fills the cache, with a progress bar
"""

from __future__ import annotations

import csv
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "banking77"
CACHE = ROOT / ".sluice" / "cache"
sys.path.insert(0, str(ROOT / "model"))


@dataclass(frozen=True)
class Split:
    texts: list[str]
    labels: list[str]
    embeddings: np.ndarray  # (n, 384) float32, unit length


def read_split(name: str) -> tuple[list[str], list[str]]:
    with (DATA / f"{name}.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return [row["text"] for row in rows], [row["category"] for row in rows]


def _cache_path(texts: list[str]) -> Path:
    import train  # the encoder's name is the model's, so a new encoder gets a new cache entry

    digest = hashlib.sha256(("\n".join(texts) + train.ENCODER_NAME).encode()).hexdigest()[:16]
    return CACHE / f"banking77-embeddings-{digest}.npy"


def load(name: str) -> Split:
    """The split's texts, labels and embeddings (encoding them the first time)."""
    texts, labels = read_split(name)
    path = _cache_path(texts)
    if path.exists():
        return Split(texts, labels, np.load(path, allow_pickle=False))
    import inference

    print(f"==> encoding {len(texts)} rows of {name}.csv once (cached in {path.parent})", flush=True)
    started = time.perf_counter()
    device = inference.default_device()
    encoder = inference.load_encoder(device=device)
    vectors = inference.embed(encoder, texts, device=device, progress=True).cpu().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npy")
    np.save(temporary, vectors.astype(np.float32), allow_pickle=False)
    temporary.replace(path)  # whole or absent: an interrupted run never leaves half a cache
    print(f"    {len(texts)} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return Split(texts, labels, vectors.astype(np.float32))


if __name__ == "__main__":
    for split in ("test", "train"):
        print(f"{split}: {load(split).embeddings.shape}")
