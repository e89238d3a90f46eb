"""The `budget` function's one call: route each state change to the responder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sluice.cost.triggers import is_schedule, state_changes
from sluice.observability import logger

if TYPE_CHECKING:  # the composition root's bundle of this function's parts; a type only
    from sluice.runtime.budget import Budget


def handle_budget_event(event: dict[str, Any], budget: Budget) -> dict[str, int]:
    if is_schedule(event):
        sampled = budget.sampler.sample()
        ended = budget.responder.revert_stale_budget_actions(correlation_id=event.get("id"))
        return {"sampled_routes": len(sampled), "changed": ended}
    changes = state_changes(event, budget.settings.alarm_triggers)
    if not changes:
        # An alarm this function does not act on (or a malformed event): say so, never guess.
        logger.warning("budget event matched no trigger", extra={"detail_type": event.get("detail-type")})
    changed = sum(
        budget.responder.on_state(change.trigger, change.state, correlation_id=change.correlation_id)
        for change in changes
    )
    return {"state_changes": len(changes), "changed": changed}
