"""The per-route output policy (part of `RouteConfig`) and what the checks report.

Every check is `block` (the answer is withheld with a stable code), `flag` (returned, with a
`guardrails` field naming the check) or `off`. Nothing here imports the rest of the platform, so
the deployment config can embed it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["block", "flag", "off"]
# classifier: the built-in intent model's shape; generation: TGI's; structured: any JSON object (a
# model brought with `make new-route`, whose answer's shape Sluice does not know).
OutputKind = Literal["classifier", "generation", "structured"]
# A moderation phrase: matched on word boundaries, case and accents folded (sluice.guardrails.moderation).
Term = Annotated[str, Field(min_length=2, max_length=100, pattern=r"\w")]


class CheckName(StrEnum):
    SCHEMA = "schema"
    PII = "pii"
    MODERATION = "moderation"
    CONFIDENCE = "confidence"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SchemaCheck(_Frozen):
    """The output has the shape of its route's kind (`sluice.guardrails.schemas`)."""

    action: Action = "block"


class PiiCheck(_Frozen):
    """Personal data in generated text is redacted (the route's operators, the input's detector)."""

    # `flag`: returned redacted and flagged; `block`: withheld. Either way never unredacted.
    action: Action = "flag"


class ModerationCheck(_Frozen):
    """A lexicon of phrases, and an optional classifier behind `ModerationClassifier`."""

    action: Action = "block"
    # `default`: the lexicon shipped with the layer (guardrails/lexicon/default.txt); `none`: only `terms`.
    lexicon: Literal["default", "none"] = "default"
    # Phrases added to the lexicon for this route.
    terms: tuple[Term, ...] = ()
    # A classifier category scoring at least this trips the check.
    classifier_threshold: float = Field(0.5, gt=0, le=1)


class ConfidenceCheck(_Frozen):
    """A classifier's top score is at least `min_score`."""

    action: Action = "flag"
    min_score: float = Field(0.5, ge=0, le=1)


class OutputPolicy(_Frozen):
    """How a route's outputs are checked, and whether the ones that fail go to human review."""

    kind: OutputKind
    schema_check: SchemaCheck = SchemaCheck()
    pii: PiiCheck = PiiCheck()
    moderation: ModerationCheck = ModerationCheck()
    confidence: ConfidenceCheck = ConfidenceCheck()
    # Flagged, blocked and low-confidence outputs become review items (sluice.review).
    review: bool = True

    @classmethod
    def default_for(cls, wire_format: str, *, model_kind: str | None = None) -> OutputPolicy:
        """`hf-tgi` routes generate text (no score to threshold). `sluice` routes serving the
        built-in intent model are classifiers (labels from a closed set: nothing generated to
        scan for personal data or to moderate); any other model's answer is only held to be a
        JSON object (its shape is the model's own: embeddings, entities, predictions), until its
        route declares `output`."""
        if wire_format == "hf-tgi":
            return cls(kind="generation", confidence=ConfidenceCheck(action="off"))
        off = {"pii": PiiCheck(action="off"), "moderation": ModerationCheck(action="off")}
        if model_kind in (None, "intent"):
            return cls(kind="classifier", **off)
        return cls(kind="structured", confidence=ConfidenceCheck(action="off"), **off)

    def action_of(self, check: CheckName) -> Action:
        return {
            CheckName.SCHEMA: self.schema_check.action,
            CheckName.PII: self.pii.action,
            CheckName.MODERATION: self.moderation.action,
            CheckName.CONFIDENCE: self.confidence.action,
        }[check]


class GuardrailReport(_Frozen):
    """The `guardrails` field of an answer or a job: which checks ran, which flagged it, what
    personal data was removed from the output (counts per entity type), and whether a person
    will review it. Never the reason's content."""

    checked: tuple[CheckName, ...] = Field(description="The checks the route applies")
    flagged: tuple[CheckName, ...] = Field((), description="Checks the output failed (returned anyway)")
    redacted: dict[str, int] = Field(
        default_factory=dict, description="Personal data removed from the output, counts per type"
    )
    in_review: bool = Field(False, description="The output was sent to human review")
