"""The output guard: a model's answer checked against its route's `OutputPolicy`.

Order: schema, personal data (redacted with the route's operators by the same detector as
inputs), moderation (on the redacted text), confidence. Each failing check is handled by its
action: `block` withholds the answer (the first blocking check names the code), `flag` returns
it with the check named in `guardrails.flagged`. Every check's outcome is counted (metrics carry
the route, check and outcome, never content). A failing output, blocked or flagged, becomes a
review item when the route asks for review, with its input and output redacted.

A check that cannot run fails closed: a detector out of time raises (the request is refused or
the job retried, as for inputs: text never passes unredacted); a moderation classifier that
fails counts as tripped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sluice.guardrails import schemas
from sluice.guardrails.errors import OutputBlocked, blocked
from sluice.guardrails.models import CheckName, GuardrailReport, OutputPolicy
from sluice.guardrails.moderation import Moderator
from sluice.guardrails.ports import ReviewSink
from sluice.observability import logger
from sluice.observability.signals import Signals, top_score
from sluice.pii.ports import InputRedactor
from sluice.review.models import ReviewDisposition, ReviewRequest


@dataclass(frozen=True)
class OutputContext:
    """Whose answer it is and what it answered: the review item's ids and redacted input."""

    job_id: str
    tenant: str
    input: Mapping[str, Any]
    variant: str | None = None
    model_version: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class Guarded:
    """A checked output: what may be returned (redacted), the report, and the block if any."""

    output: dict[str, Any]
    report: GuardrailReport
    failed: tuple[CheckName, ...] = ()
    block: OutputBlocked | None = None
    moderation_categories: tuple[str, ...] = field(default=())
    # It should have gone to review and the queue refused it (counted; the caller decides).
    review_failed: bool = False

    @property
    def blocked(self) -> bool:
        return self.block is not None


class OutputGuard:
    def __init__(
        self,
        *,
        redactor: InputRedactor | None,
        reviews: ReviewSink | None = None,
        moderator: Moderator | None = None,
        signals: Signals | None = None,
        labels: Callable[[str], Collection[str]] | None = None,
    ) -> None:
        # The input redactor: outputs are scanned by the same detector, keys and vault.
        self._redactor = redactor
        self._reviews = reviews
        self._moderator = moderator or Moderator()
        self._signals = signals
        self._labels = labels or _route_labels

    def check(
        self,
        route_name: str,
        policy: OutputPolicy,
        output: dict[str, Any],
        context: OutputContext,
        *,
        pii_allow: tuple[str, ...] = (),
        pii_operators: Mapping[str, str] | None = None,
    ) -> Guarded:
        """Check `output`; send it to review if it failed and the route reviews. A review the
        queue refused is `review_failed` (counted here; the caller decides what stands)."""
        checked = tuple(check for check in CheckName if policy.action_of(check) != "off")
        outcomes: dict[CheckName, str] = {}
        failed: list[CheckName] = []
        categories: tuple[str, ...] = ()
        current = output
        redacted: dict[str, int] = {}

        def fail(check: CheckName) -> None:
            failed.append(check)
            outcomes[check] = policy.action_of(check)

        if CheckName.SCHEMA in checked:
            problems = schemas.violations(policy.kind, output, labels=self._labels(route_name))
            if problems:
                # Field locations and rule names only (schemas.violations): never the values.
                logger.info("output schema violation", extra={"job_id": context.job_id, "problems": problems})
                fail(CheckName.SCHEMA)
            else:
                outcomes[CheckName.SCHEMA] = "pass"
        if CheckName.PII in checked:
            if self._redactor is None:
                raise RuntimeError("the route scans outputs for personal data but no redactor is configured")
            # The time budget follows from the output's size, as an input's from its route's limit.
            size = len(json.dumps(current, separators=(",", ":")).encode())
            result = self._redactor.redact(
                current, tenant=context.tenant, allow=pii_allow, operators=pii_operators, max_input_bytes=size
            )
            current, redacted = result.input, {k: v for k, v in result.counts.items() if v}
            if redacted:
                fail(CheckName.PII)
            else:
                outcomes[CheckName.PII] = "pass"
        if CheckName.MODERATION in checked:
            verdict = self._moderator.judge(list(_strings(current)), policy.moderation)
            categories = verdict.categories + (("classifier_unavailable",) if verdict.unavailable else ())
            if verdict.tripped:
                fail(CheckName.MODERATION)
            else:
                outcomes[CheckName.MODERATION] = "pass"
        if CheckName.CONFIDENCE in checked:
            score = top_score(current)
            if score is not None and score < policy.confidence.min_score:
                fail(CheckName.CONFIDENCE)
            else:
                # No score (a generative answer, or one the schema check already failed) is not low.
                outcomes[CheckName.CONFIDENCE] = "pass"
        blocking = next((check for check in failed if policy.action_of(check) == "block"), None)
        block = blocked(blocking) if blocking is not None else None
        if self._signals is not None:
            self._signals.guardrails(
                route_name, {check.value: outcome for check, outcome in outcomes.items()}
            )
        guarded = Guarded(
            output=current,
            report=GuardrailReport(
                checked=checked,
                flagged=tuple(check for check in failed if policy.action_of(check) == "flag"),
                redacted=redacted,
            ),
            failed=tuple(failed),
            block=block,
            moderation_categories=categories,
        )
        if not (failed and policy.review and self._reviews is not None):
            return guarded
        queued = self._send_for_review(route_name, guarded, context, pii_scanned=CheckName.PII in checked)
        if not queued and self._signals is not None:
            self._signals.review_not_queued(route_name)
        return replace(
            guarded,
            report=guarded.report.model_copy(update={"in_review": queued}),
            review_failed=not queued,
        )

    def _send_for_review(
        self, route_name: str, guarded: Guarded, context: OutputContext, *, pii_scanned: bool
    ) -> bool:
        assert self._reviews is not None
        output = guarded.output
        if not pii_scanned and self._redactor is not None:
            # A reviewer never sees personal data: an output the route does not scan is masked here.
            output = self._redactor.redact(output, tenant=context.tenant, allow=()).input
        request = ReviewRequest(
            review_id=context.job_id,
            job_id=context.job_id,
            tenant=context.tenant,
            route=route_name,
            variant=context.variant,
            model_version=context.model_version,
            disposition=ReviewDisposition.BLOCKED if guarded.blocked else ReviewDisposition.FLAGGED,
            reasons=guarded.failed,
            moderation_categories=guarded.moderation_categories,
            confidence=top_score(guarded.output),
            predicted_label=_top_label(guarded.output),
            input=dict(context.input),
            output=output,
            correlation_id=context.correlation_id,
        )
        try:
            self._reviews.submit(request)
        except Exception:
            logger.exception("review item not queued", extra={"job_id": context.job_id})
            return False
        return True


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for value in node.values() for text in _strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in _strings(value)]
    return []


def _top_label(output: Mapping[str, Any]) -> str | None:
    intents = output.get("intents")
    if isinstance(intents, list) and intents and isinstance(intents[0], dict):
        label = intents[0].get("label")
        return label if isinstance(label, str) else None
    return None


def _route_labels(route: str) -> Collection[str]:
    from sluice.lifecycle.labels import route_labels

    return route_labels(route)
