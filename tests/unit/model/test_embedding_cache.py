"""train.py's opt-in embedding cache (`make drift-demo`): cached texts are not encoded again, the
rest are, in the caller's order; a cache of another encoder is not used."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "model"))

import train  # noqa: E402

from tests.unit.model.tiny_model import KeywordEncoder  # noqa: E402


def write_cache(path: Path, texts: list[str], encoder: str = train.ENCODER_NAME) -> None:
    vectors = np.eye(len(texts), 3, dtype=np.float32)
    np.savez(path, texts=np.array(texts), vectors=vectors, encoder=np.array(encoder))


def test_cached_texts_are_not_encoded_and_the_order_is_kept(tmp_path: Path) -> None:
    # Given a cache of two texts and a counting encoder
    write_cache(tmp_path / "cache.npz", ["my card was stolen", "what is the rate"])
    cache = train.load_embedding_cache(str(tmp_path / "cache.npz"))
    encoder = KeywordEncoder()
    loads: list[int] = []

    def load() -> KeywordEncoder:
        loads.append(1)
        return encoder

    # When three texts are embedded, one of them new
    vectors = train.embed_texts(
        ["what is the rate", "has my card been received", "my card was stolen"],
        cache=cache,
        encoder=load,  # type: ignore[arg-type]
        device="cpu",
        batch_size=8,
    )
    # Then only the new one was encoded, and each row is its text's vector
    assert encoder.batches == [["has my card been received"]]
    assert loads == [1]
    np.testing.assert_array_equal(vectors[0], cache["what is the rate"])
    np.testing.assert_array_equal(vectors[2], cache["my card was stolen"])
    assert vectors.shape == (3, 3)
    assert vectors.dtype == np.float32


def test_the_encoder_is_not_loaded_when_every_text_is_cached(tmp_path: Path) -> None:
    write_cache(tmp_path / "cache.npz", ["a", "b"])
    cache = train.load_embedding_cache(str(tmp_path / "cache.npz"))

    def load() -> KeywordEncoder:
        raise AssertionError("the encoder must not be loaded")

    vectors = train.embed_texts(["b", "a", "b"], cache=cache, encoder=load, device="cpu", batch_size=8)  # type: ignore[arg-type]
    assert vectors.shape == (3, 3)


@pytest.mark.parametrize("path", [None, ""])
def test_no_cache_unless_one_is_named(path: str | None) -> None:
    assert train.load_embedding_cache(path) == {}


def test_a_cache_of_another_encoder_is_not_used(tmp_path: Path) -> None:
    write_cache(tmp_path / "cache.npz", ["a"], encoder="some/other-encoder")
    assert train.load_embedding_cache(str(tmp_path / "cache.npz")) == {}
