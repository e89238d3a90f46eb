"""What the `budget` function does when a cost alarm changes state: apply or revert actions.

Each configured action is applied at most once per ALARM: the action log records it, with the
state it replaced, by a conditional write before anything changes, so a duplicate or concurrent
delivery of the same alarm applies nothing twice and the first state is the one restored. The
change itself sets an absolute value (a cap, a range, weights, a flag), so a retry after a
crash between the record and the change simply sets it again. OK reverts to the recorded state
and lifts the record. Every application and reversion is an event on the platform bus and an
audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sluice.config import CostAction
from sluice.cost.events import CostActionApplied, CostActionReverted
from sluice.cost.ports import ActionLog, EventSink, JobAdmission, QuotaControl, RouteWeights, ScalingControl
from sluice.events import Event
from sluice.observability import logger

STACK_BUDGET = "stack-budget"
Values = dict[str, float | int | str | None]


@dataclass(frozen=True)
class Controls:
    quotas: QuotaControl
    scaling: ScalingControl
    weights: RouteWeights
    admission: JobAdmission


class CostResponder:
    def __init__(
        self,
        actions: Mapping[str, Sequence[CostAction]],
        *,
        variants: Mapping[str, Sequence[str]],
        controls: Controls,
        log: ActionLog,
        events: EventSink,
    ) -> None:
        self._actions = actions
        self._variants = variants
        self._controls = controls
        self._log = log
        self._events = events

    def on_state(self, trigger: str, state: str, *, correlation_id: str | None) -> int:
        """ALARM applies the trigger's actions, OK reverts them; returns how many changed."""
        if state == "ALARM":
            return self.apply(trigger, correlation_id=correlation_id)
        if state == "OK":
            return self.revert(trigger, correlation_id=correlation_id)
        return 0  # INSUFFICIENT_DATA: neither over nor under; leave things as they are

    def apply(self, trigger: str, *, correlation_id: str | None) -> int:
        applied = 0
        for index, action in enumerate(self._actions.get(trigger, ())):
            previous = self._read(action)
            target = self._target(action, previous)
            record = {
                "kind": action.kind,
                "action": action.model_dump(mode="json"),
                "previous": previous,
                "applied": target,
                "month": datetime.now(UTC).strftime("%Y-%m"),
            }
            newly = self._log.claim(trigger, index, record)
            if not newly:
                # Already in force: set it again (a crash may have come between record and change),
                # to what was recorded the first time.
                recorded = next((r for r in self._log.in_force(trigger) if r["index"] == index), None)
                target = recorded["applied"] if recorded else target
            self._write(action, target)
            if newly:
                applied += 1
                self._announce(CostActionApplied, trigger, index, action, target, previous, correlation_id)
        return applied

    def revert(self, trigger: str, *, correlation_id: str | None) -> int:
        reverted = 0
        for record in self._log.in_force(trigger):
            action = CostAction.model_validate(record["action"])
            self._write(action, record["previous"])
            self._log.lift(trigger, record["index"])
            reverted += 1
            self._announce(
                CostActionReverted,
                trigger,
                record["index"],
                action,
                record["previous"],
                record["applied"],
                correlation_id,
            )
        return reverted

    def revert_stale_budget_actions(self, *, correlation_id: str | None) -> int:
        """AWS Budgets sends no all-clear: actions of a budget alert end with its month."""
        month = datetime.now(UTC).strftime("%Y-%m")
        if STACK_BUDGET not in self._log.triggers_in_force():
            return 0
        if all(record["month"] == month for record in self._log.in_force(STACK_BUDGET)):
            return 0
        return self.revert(STACK_BUDGET, correlation_id=correlation_id)

    # --- the state each kind of action reads, computes and writes ---------------------------------

    def _read(self, action: CostAction) -> Values:
        controls = self._controls
        if action.kind == "lower_quota":
            assert action.tenant is not None
            return {"quota_cap": controls.quotas.quota_cap(action.tenant)}
        assert action.route is not None
        if action.kind in ("cap_scaling", "scale_to_zero"):
            values: Values = {}
            for variant in self._variants[action.route]:
                minimum, maximum, suspended = controls.scaling.capacity(action.route, variant)
                values[f"{variant}.min"], values[f"{variant}.max"] = minimum, maximum
                values[f"{variant}.scale_out"] = "suspended" if suspended else "active"
            return values
        if action.kind == "shift_weight":
            return dict(controls.weights.weights(action.route))
        return {"paused": "true" if controls.admission.paused(action.route) else "false"}

    def _target(self, action: CostAction, previous: Values) -> Values:
        if action.kind == "lower_quota":
            current = previous["quota_cap"]
            assert action.requests is not None
            cap = action.requests if current is None else min(int(current), action.requests)
            return {"quota_cap": cap}
        if action.kind == "cap_scaling":
            assert action.max_instances is not None
            capped: Values = dict(previous)
            for name, value in previous.items():
                if name.endswith((".min", ".max")):
                    capped[name] = min(int(value or 0), action.max_instances)
            return capped
        if action.kind == "scale_to_zero":
            # A variant's maximum is at least 1: zero is a minimum of 0 that cannot scale out.
            zero: Values = {"min": 0, "max": 1, "scale_out": "suspended"}
            return {name: zero[name.rpartition(".")[2]] for name in previous}
        if action.kind == "shift_weight":
            total = sum(float(v or 0) for v in previous.values())
            return {variant: (total if variant == action.to_variant else 0.0) for variant in previous}
        return {"paused": "true"}

    def _write(self, action: CostAction, values: Mapping[str, Any]) -> None:
        controls = self._controls
        if action.kind == "lower_quota":
            assert action.tenant is not None
            cap = values["quota_cap"]
            controls.quotas.set_quota_cap(action.tenant, None if cap is None else int(cap))
            return
        assert action.route is not None
        if action.kind in ("cap_scaling", "scale_to_zero"):
            for variant in self._variants[action.route]:
                controls.scaling.set_capacity(
                    action.route,
                    variant,
                    minimum=int(values[f"{variant}.min"]),
                    maximum=int(values[f"{variant}.max"]),
                    scale_out_suspended=values[f"{variant}.scale_out"] == "suspended",
                )
        elif action.kind == "shift_weight":
            controls.weights.set_weights(action.route, {k: float(v) for k, v in values.items()})
        else:
            controls.admission.set_paused(action.route, values["paused"] == "true")

    def _announce(
        self,
        kind: type[CostActionApplied] | type[CostActionReverted],
        trigger: str,
        index: int,
        action: CostAction,
        now: Mapping[str, Any],
        before: Mapping[str, Any],
        correlation_id: str | None,
    ) -> None:
        detail = kind(
            trigger=trigger,
            action_index=index,
            kind=action.kind,
            tenant=action.tenant,
            route=action.route,
            applied=dict(now),
            previous=dict(before),
        )
        self._log.audit({"event": kind.event_name, **detail.model_dump(mode="json")})
        logger.info(
            f"cost action {kind.event_name}",
            extra={"trigger": trigger, "kind": action.kind, "route": action.route, "index": index},
        )
        self._events.publish(Event.wrap(detail, correlation_id=correlation_id))
