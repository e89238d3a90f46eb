"""Events the `budget` function puts on the platform bus: one per action applied or reverted."""

from __future__ import annotations

from typing import ClassVar, Literal

from sluice.events import EventDetail

ActionKind = Literal["lower_quota", "cap_scaling", "shift_weight", "scale_to_zero", "stop_jobs"]


class _CostAction(EventDetail):
    trigger: str  # "tenant-spend:acme", "instance-hours:chat", "stack-budget"
    action_index: int
    kind: ActionKind
    tenant: str | None = None
    route: str | None = None
    # What was set, and what it replaced (numbers and variant names only).
    applied: dict[str, float | int | str | None]
    previous: dict[str, float | int | str | None]


class CostActionApplied(_CostAction):
    event_name: ClassVar[str] = "CostActionApplied"
    event_version: ClassVar[int] = 1


class CostActionReverted(_CostAction):
    event_name: ClassVar[str] = "CostActionReverted"
    event_version: ClassVar[int] = 1
