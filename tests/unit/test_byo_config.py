"""A route's own model in the config: kinds, tasks, paths, images, one artifact per variant."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sluice.config import EndpointConfig, ModelSource, VariantConfig


def test_a_transformers_model_names_its_task_and_no_other_kind_does() -> None:
    assert ModelSource(kind="transformers", path="models/ner", task="token-classification").task
    with pytest.raises(ValidationError, match="names its task"):
        ModelSource(kind="transformers", path="models/ner")
    with pytest.raises(ValidationError, match="names its task"):
        ModelSource(kind="sklearn", path="models/tfidf", task="text-classification")


@pytest.mark.parametrize("path", ["../elsewhere", "models/../../etc", "/abs/path", ""])
def test_a_model_path_stays_inside_the_checkout(path: str) -> None:
    with pytest.raises(ValidationError):
        ModelSource(kind="sklearn", path=path)


def test_two_variants_may_serve_two_versions_of_one_model_but_not_the_same_dir() -> None:
    # Given two variants, each with its own model directory
    v1 = VariantConfig(name="v1", model=ModelSource(kind="pytorch", path="models/v1"))
    v2 = VariantConfig(name="v2", model=ModelSource(kind="pytorch", path="models/v2"))
    # Then the endpoint serves them side by side, each variant its own model
    endpoint = EndpointConfig(variants=(v1, v2))
    assert [endpoint.model_of(v).path for v in endpoint.production_variants] == ["models/v1", "models/v2"]
    # But two fleets of one artifact are refused
    with pytest.raises(ValidationError, match="same model artifact"):
        EndpointConfig(variants=(v1, v1.model_copy(update={"name": "v3"})))


def test_a_joblib_model_needs_the_sklearn_image() -> None:
    model = ModelSource(kind="sklearn", path="models/tfidf")
    with pytest.raises(ValidationError, match="need \\['sklearn'\\]"):
        EndpointConfig(model=model)
    endpoint = EndpointConfig(
        model=model,
        instance_type="ml.m5.large",
        image={"framework": "sklearn", "version": "1.4-2-py312", "py_version": "py3"},
    )
    assert endpoint.model_of(endpoint.production_variants[0]) == model
