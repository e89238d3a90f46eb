"""The output guard on its own: each check, each action, the review copy and what is counted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import pytest

from sluice.config import EndpointConfig, RouteConfig
from sluice.guardrails.errors import (
    OutputContainsPii,
    OutputLowConfidence,
    OutputModerated,
    OutputSchemaViolation,
)
from sluice.guardrails.guard import OutputContext, OutputGuard
from sluice.guardrails.models import (
    CheckName,
    ConfidenceCheck,
    ModerationCheck,
    OutputPolicy,
    PiiCheck,
    SchemaCheck,
)
from sluice.guardrails.moderation import Moderator, fold
from sluice.pii.input_redactor import PiiInputRedactor
from sluice.review.models import ReviewRequest

CONTEXT = OutputContext(job_id="a" * 32, tenant="acme", input={"text": "call me, <PERSON>"}, variant="v1")
CLASSIFIER = OutputPolicy.default_for("sluice")
GENERATION = OutputPolicy.default_for("hf-tgi")


class Reviews:
    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[ReviewRequest] = []
        self._fail = fail

    def submit(self, request: ReviewRequest) -> None:
        if self._fail:
            raise ConnectionError("queue down")
        self.sent.append(request)


class Counted:
    """Records what the guard counts (the Signals method it calls)."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, dict[str, str]]] = []
        self.not_queued: list[str] = []

    def guardrails(self, route: str, outcomes: Mapping[str, str]) -> None:
        self.outcomes.append((route, dict(outcomes)))

    def review_not_queued(self, route: str) -> None:
        self.not_queued.append(route)


def guard(reviews: Reviews | None = None, signals: Counted | None = None, **kwargs: Any) -> OutputGuard:
    return OutputGuard(
        redactor=PiiInputRedactor(),
        reviews=reviews,
        signals=signals,  # type: ignore[arg-type]
        labels=lambda route: {"card_arrival", "lost_or_stolen_card"} if route == "intent" else set(),
        **kwargs,
    )


def intents(*scores: float, label: str = "card_arrival") -> dict[str, Any]:
    return {"intents": [{"label": label, "score": score} for score in scores]}


def test_route_kinds_have_sensible_defaults() -> None:
    intent = RouteConfig(name="intent").output_policy
    chat = RouteConfig(
        name="chat", endpoint=EndpointConfig(wire_format="hf-tgi", accepts_batches=False)
    ).output_policy
    assert (intent.kind, chat.kind) == ("classifier", "generation")
    assert {check: intent.action_of(check) for check in CheckName} == {
        CheckName.SCHEMA: "block",
        CheckName.PII: "off",  # labels from a closed set: nothing generated
        CheckName.MODERATION: "off",
        CheckName.CONFIDENCE: "flag",
    }
    assert {check: chat.action_of(check) for check in CheckName} == {
        CheckName.SCHEMA: "block",
        CheckName.PII: "flag",
        CheckName.MODERATION: "block",
        CheckName.CONFIDENCE: "off",  # a generation has no score
    }


def test_a_generative_route_cannot_declare_a_classifier_schema() -> None:
    with pytest.raises(ValueError, match=r"output\.kind must be generation"):
        RouteConfig(
            name="chat",
            endpoint=EndpointConfig(wire_format="hf-tgi", accepts_batches=False),
            output=OutputPolicy(kind="classifier"),
        )


@pytest.mark.parametrize(
    "output",
    [
        {"label": "card_arrival"},
        {"intents": []},
        {"intents": [{"label": "card_arrival", "score": "0.9"}]},
        {"intents": [{"label": "card_arrival", "score": 1.5}]},
        intents(0.2, 0.7),  # not by descending score
        intents(0.9, label="no_such_intent"),  # outside the route's label set
    ],
)
def test_a_classifier_output_that_breaks_its_schema_is_blocked_with_a_502(output: dict[str, Any]) -> None:
    checked = guard().check("intent", CLASSIFIER, output, CONTEXT)
    assert isinstance(checked.block, OutputSchemaViolation)
    assert (checked.block.code, checked.block.status) == ("OUTPUT_SCHEMA_VIOLATION", HTTPStatus.BAD_GATEWAY)
    assert not checked.block.retryable
    assert checked.failed[0] is CheckName.SCHEMA


def test_a_schema_violation_on_a_flagging_route_is_returned_flagged() -> None:
    policy = CLASSIFIER.model_copy(update={"schema_check": SchemaCheck(action="flag")})
    checked = guard().check("intent", policy, {"label": "x"}, CONTEXT)
    assert checked.block is None
    assert checked.report.flagged == (CheckName.SCHEMA,)


def test_personal_data_in_a_generation_is_redacted_and_flagged_or_blocked() -> None:
    output = {"generated_text": "Write to jo.bloggs@example.com or call +44 20 7946 0958."}
    flagged = guard().check("chat", GENERATION, output, CONTEXT)
    assert flagged.block is None
    assert "jo.bloggs@example.com" not in flagged.output["generated_text"]
    assert flagged.report.flagged == (CheckName.PII,)
    assert flagged.report.redacted == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    policy = GENERATION.model_copy(update={"pii": PiiCheck(action="block")})
    blocked = guard().check("chat", policy, output, CONTEXT)
    assert isinstance(blocked.block, OutputContainsPii)


def test_the_route_s_pii_policy_applies_to_outputs_as_to_inputs() -> None:
    # A route that lets e-mail addresses through lets them through in its answers too
    output = {"generated_text": "Write to jo.bloggs@example.com."}
    checked = guard().check("chat", GENERATION, output, CONTEXT, pii_allow=("EMAIL_ADDRESS",))
    assert checked.output == output
    assert checked.report.flagged == ()


def test_moderation_matches_whole_words_case_and_accents_folded() -> None:
    moderator = Moderator()
    policy = ModerationCheck()
    assert moderator.judge(["I KNOW where you LIVE!"], policy).categories == ("threat",)
    assert moderator.judge(["Yóu are wórthless"], policy).categories == ("harassment",)
    # "kill" inside "skill", a phrase split across words it does not contain: no match
    assert not moderator.judge(["Build your skills; you should skill yourself up"], policy).tripped
    assert moderator.judge(["zebra"], policy.model_copy(update={"terms": ("Zebra",)})).categories == (
        "custom",
    )
    assert not moderator.judge(
        ["I know where you live"], policy.model_copy(update={"lexicon": "none"})
    ).tripped
    assert fold("Ünïcode—text!") == " unicode text "


class Classifier:
    def __init__(self, scores: Sequence[Mapping[str, float]] | None = None) -> None:
        self._scores = scores

    def classify(self, texts: Sequence[str]) -> Sequence[Mapping[str, float]]:
        if self._scores is None:
            raise TimeoutError("moderation model timed out")
        return self._scores


def test_a_pluggable_classifier_trips_moderation_at_its_threshold_and_fails_closed() -> None:
    output = {"generated_text": "a perfectly polite sentence"}
    scored = guard(moderator=Moderator(Classifier([{"violence": 0.8, "hate": 0.1}]))).check(
        "chat", GENERATION, output, CONTEXT
    )
    assert isinstance(scored.block, OutputModerated)
    assert scored.moderation_categories == ("violence",)
    calm = guard(moderator=Moderator(Classifier([{"violence": 0.2}]))).check(
        "chat", GENERATION, output, CONTEXT
    )
    assert calm.block is None
    broken = guard(moderator=Moderator(Classifier(None))).check("chat", GENERATION, output, CONTEXT)
    assert isinstance(broken.block, OutputModerated)
    assert broken.moderation_categories == ("classifier_unavailable",)


def test_a_low_confidence_classification_is_flagged_and_sent_to_review_redacted() -> None:
    reviews, counted = Reviews(), Counted()
    checked = guard(reviews, counted).check("intent", CLASSIFIER, intents(0.3, 0.2), CONTEXT)
    assert checked.block is None
    assert checked.report.flagged == (CheckName.CONFIDENCE,)
    assert checked.report.in_review is True
    [request] = reviews.sent
    assert (request.review_id, request.tenant, request.reasons) == (
        CONTEXT.job_id,
        "acme",
        (CheckName.CONFIDENCE,),
    )
    assert (request.predicted_label, request.confidence, request.disposition.value) == (
        "card_arrival",
        0.3,
        "flagged",
    )
    assert request.input == {"text": "call me, <PERSON>"}
    # Each applied check is counted under its outcome, never with content
    assert counted.outcomes == [("intent", {"schema": "pass", "confidence": "flag"})]


def test_a_confident_answer_passes_and_is_not_reviewed() -> None:
    reviews = Reviews()
    checked = guard(reviews).check("intent", CLASSIFIER, intents(0.9, 0.05), CONTEXT)
    assert (checked.failed, checked.report.in_review, reviews.sent) == ((), False, [])


def test_a_blocking_confidence_threshold_withholds_the_answer() -> None:
    policy = CLASSIFIER.model_copy(update={"confidence": ConfidenceCheck(action="block", min_score=0.95)})
    checked = guard(Reviews()).check("intent", policy, intents(0.9), CONTEXT)
    assert isinstance(checked.block, OutputLowConfidence)


def test_a_review_the_queue_refuses_is_reported_and_counted_not_hidden() -> None:
    counted = Counted()
    checked = guard(Reviews(fail=True), counted).check("intent", CLASSIFIER, intents(0.3), CONTEXT)
    assert checked.review_failed is True
    assert checked.report.in_review is False
    assert counted.not_queued == ["intent"]


def test_a_reviewed_output_is_masked_even_where_the_route_does_not_scan_outputs() -> None:
    reviews = Reviews()
    output = {**intents(0.3), "explanation": "the customer jo.bloggs@example.com asked"}
    guard(reviews).check("intent", CLASSIFIER, output, CONTEXT)
    [request] = reviews.sent
    assert "jo.bloggs@example.com" not in str(request.output)


def test_a_brought_models_answer_is_held_to_a_json_object_not_to_the_intent_classifiers_shape() -> None:
    # Given the route of a model brought with make new-route (its own answer shape)
    from sluice.config import ModelSource

    embed = RouteConfig(
        name="embed",
        endpoint=EndpointConfig(model=ModelSource(kind="transformers", path="m", task="feature-extraction")),
    ).output_policy

    # Then its embeddings pass, and an answer that is not a JSON object is blocked
    assert embed.kind == "structured"
    assert guard().check("embed", embed, {"embedding": [0.1, 0.2]}, CONTEXT).block is None
    assert guard().check("embed", embed, ["not", "an", "object"], CONTEXT)  # type: ignore[arg-type].block is not None
