"""`ModelRejected` from a failed retraining run: the golden-query gate's verdict, read where the
evaluate step wrote it (`runs/<route>/<execution id>/evaluation/`), with the failing slices.

A pipeline fails for other reasons too (a training job that died): those publish nothing here,
because no gate judged a candidate; SageMaker's own failure event already reports them.
"""

from __future__ import annotations

from typing import Any, Protocol

from sluice.lifecycle.events import ModelRejected


class GateReports(Protocol):
    def read(self, route: str, execution_id: str, name: str) -> dict[str, Any] | None:
        """`evaluation.json` or `gate_report.json` of one run, or None if the run wrote none."""
        ...

    def uri(self, route: str, execution_id: str) -> str:
        """Where the run's gate report is."""
        ...


def rejection(route: str, execution_id: str, reports: GateReports) -> ModelRejected | None:
    evaluation = reports.read(route, execution_id, "evaluation.json")
    if evaluation is None or int(evaluation.get("approved", 1)) == 1:
        return None
    report = reports.read(route, execution_id, "gate_report.json") or {}
    return ModelRejected(
        route=route,
        candidate_version=str(evaluation.get("candidate_version") or ""),
        incumbent_version=str(evaluation.get("incumbent_version") or ""),
        failed_slices=[str(name) for name in evaluation.get("failed_slices", [])],
        # The gate's reasons name slices, accuracies and latencies, never a query's text.
        reasons=[str(reason) for reason in report.get("reasons", [])][:20],
        report_uri=reports.uri(route, execution_id),
    )
