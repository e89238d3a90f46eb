"""The output schema of each route kind, as pydantic models: what a model must answer.

A classifier answers `{"intents": [{"label", "score"}, ...]}`, scores in [0, 1] by descending
score (the first is the answer: feedback, confidence and the A/B report read it), each label one
of the route's label set when the route has one. A generative route answers
`{"generated_text": "..."}` (the TGI container's shape). Any other model answers a JSON object
of its own shape. Extra fields are allowed: a container
may add details; a missing or mistyped field is a violation.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sluice.guardrails.models import OutputKind


class _Scored(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    label: str = Field(min_length=1, max_length=256)
    score: float = Field(ge=0, le=1)


class ClassifierOutput(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    intents: list[_Scored] = Field(min_length=1)

    @model_validator(mode="after")
    def _by_descending_score(self) -> ClassifierOutput:
        scores = [intent.score for intent in self.intents]
        if scores != sorted(scores, reverse=True):
            raise ValueError("intents are not ordered by descending score")
        return self


class GenerationOutput(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    generated_text: str


class StructuredOutput(BaseModel):
    """Any JSON object: the shape of a brought model's answer is its own."""

    model_config = ConfigDict(extra="allow", strict=True)


_MODELS: dict[str, type[BaseModel]] = {
    "classifier": ClassifierOutput,
    "generation": GenerationOutput,
    "structured": StructuredOutput,
}


def violations(kind: OutputKind, output: Any, *, labels: Collection[str] = ()) -> list[str]:
    """Where `output` breaks its kind's schema: field locations and rule names, never values."""
    try:
        parsed = _MODELS[kind].model_validate(output)
    except ValidationError as error:
        return [
            f"{'.'.join(str(part) for part in item['loc']) or 'output'}: {item['type']}"
            for item in error.errors(include_input=False, include_url=False)[:5]
        ]
    if isinstance(parsed, ClassifierOutput) and labels:
        unknown = [index for index, intent in enumerate(parsed.intents) if intent.label not in labels]
        if unknown:
            return [f"intents.{index}.label: not_in_label_set" for index in unknown[:5]]
    return []


def json_schema(kind: OutputKind) -> dict[str, Any]:
    """The kind's JSON Schema, for the API document."""
    return _MODELS[kind].model_json_schema()
