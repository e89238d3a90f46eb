"""`make ab-report [ROUTE=intent] [STACK=<stack>]`: A/B evidence per (route, variant, model
version) from the platform's own records, with a significance test per figure
(`sluice.lifecycle.ab`), as `bench/results/ab_report.md` and a plot `bench/results/ab_report.png`.

Without STACK: the running (or kept) local platform, through `.sluice/outputs.json`. With STACK:
the deployed stack's `FeedbackTableName` and `JobsTableName` outputs, with the caller's AWS
credentials (cloudformation:DescribeStacks, dynamodb:Scan on both tables).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
from sluice.adapters.dynamodb_jobs import DynamoJobStore
from sluice.config import DeploymentConfig
from sluice.lifecycle.ab import ABReport, build_report, observations_from_records, render_markdown
from sluice_local.outputs import DEFAULT_OUTPUTS, local_session, read_outputs

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def _records(
    dynamodb: Any, outputs: dict[str, Any], route: str, baseline_variant: str | None = None
) -> ABReport:
    feedback = DynamoFeedbackStore(dynamodb, outputs["FeedbackTableName"])
    jobs = DynamoJobStore(dynamodb, outputs["JobsTableName"])
    from datetime import UTC, datetime

    observations = observations_from_records(
        feedback.served_on_route(route),
        jobs.finished_on_route(route),
        feedback.feedback_between(route, None, datetime.now(UTC)),
    )
    return build_report(route, observations, baseline_variant=baseline_variant)


def reports(
    routes: dict[str, str | None], *, stack: str | None, outputs_file: Path | None = None
) -> list[ABReport]:
    """`routes`: each route with its incumbent variant (arm A), the first in its config."""
    if stack:
        import boto3

        described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        dynamodb = boto3.client("dynamodb")
    else:
        path = outputs_file or DEFAULT_OUTPUTS
        if not path.exists():
            raise SystemExit(
                f"no local platform outputs in {path}: start it with `make run` (or give STACK=...)"
            )
        outputs = read_outputs(path)
        dynamodb = local_session(outputs).client("dynamodb", endpoint_url=outputs["DynamoDbEndpointUrl"])
    if "FeedbackTableName" not in outputs:
        raise SystemExit("no FeedbackTableName in the outputs: this platform has no lifecycle routes")
    return [_records(dynamodb, outputs, route, baseline) for route, baseline in routes.items()]


def _panel_title(title: str, reports: list[ABReport], figure: str) -> str:
    """The panel's title and, under it, each challenger's verdict on that figure."""
    verdicts = [
        f"{arm.split('@')[0]} vs {(report.baseline or '').split('@')[0]}: {c.verdict}"
        + (f" (p={c.p_value:.2g})" if c.p_value is not None else "")
        for report in reports
        for arm, comparisons in report.comparisons.items()
        for c in comparisons
        if c.figure == figure
    ]
    return "\n".join([title, *verdicts])


def plot(reports: list[ABReport], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = [(report.route, arm) for report in reports for arm in report.arms]
    figure, grid = plt.subplots(2, 2, figsize=(11, 8.5))
    accuracy_axis, error_axis, latency_axis, confidence_axis = grid.flat
    # The version's tail tells the arms apart: a model version is a name plus a digest.
    labels = [f"{route}/{arm.variant}\n{arm.model_version[-16:]}" for route, arm in arms]
    positions = list(range(len(arms)))
    accuracy = [arm.accuracy or 0.0 for _, arm in arms]
    low = [(arm.accuracy or 0.0) - (arm.accuracy_low or 0.0) for _, arm in arms]
    high = [(arm.accuracy_high or 0.0) - (arm.accuracy or 0.0) for _, arm in arms]
    accuracy_axis.bar(positions, accuracy, yerr=[low, high], capsize=8, color="tab:blue")
    accuracy_axis.set_title(_panel_title("feedback accuracy, 95% Wilson interval", reports, "accuracy"))
    accuracy_axis.set_ylim(0, 1)
    for x, (_, arm) in zip(positions, arms, strict=True):
        accuracy_axis.annotate(f"{arm.correct}/{arm.feedback}", (x, 0.05), ha="center", color="white")
    rates = [arm.error_rate or 0.0 for _, arm in arms]
    error_axis.bar(positions, rates, color="tab:red")
    error_axis.set_ylim(0, max(0.05, *rates) * 1.2)
    for x, (_, arm) in zip(positions, arms, strict=True):
        error_axis.annotate(f"{arm.errors} of {arm.requests}", (x, max(0.05, *rates) * 0.05), ha="center")
    error_axis.set_title(_panel_title("error rate", reports, "error_rate"))
    width = 0.38
    latency_axis.bar(
        [p - width / 2 for p in positions], [a.latency_p50_ms or 0 for _, a in arms], width, label="p50"
    )
    latency_axis.bar(
        [p + width / 2 for p in positions], [a.latency_p99_ms or 0 for _, a in arms], width, label="p99"
    )
    latency_axis.set_title(_panel_title("API latency (sync answers), ms", reports, "latency"))
    latency_axis.legend()
    confidence_axis.bar(positions, [arm.mean_confidence or 0.0 for _, arm in arms], color="tab:green")
    confidence_axis.set_title(_panel_title("mean top-label confidence", reports, "confidence"))
    confidence_axis.set_ylim(0, 1)
    for axis in grid.flat:
        axis.set_xticks(positions, labels, fontsize=8)
    figure.suptitle("A/B evidence per variant and model version (`make ab-report`)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--route", help="one lifecycle route; default: all of them")
    parser.add_argument("--stack", help="a deployed stack's name; without it, the local platform")
    parser.add_argument("--outputs", type=Path, help="the local platform's outputs file")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="a line saying how the traffic was made")
    args = parser.parse_args(argv)
    context = json.loads((ROOT / "cdk.json").read_text())["context"].get("sluice", {})
    config = DeploymentConfig.model_validate(context)
    variants = {
        route.name: route.endpoint.production_variants[0].name if route.endpoint.production_variants else None
        for route in config.routes
    }
    names = [args.route] if args.route else list(config.lifecycle.routes)
    found = reports({name: variants.get(name) for name in names}, stack=args.stack, outputs_file=args.outputs)
    source = f"stack {args.stack}" if args.stack else "the local platform"
    text = "\n".join(
        [
            "# A/B evidence (`make ab-report`)",
            "",
            f"From {source}'s records (inference log, job records, feedback). Fisher's exact test for"
            " accuracy and errors, Mann-Whitney U for latency and confidence, two-sided, alpha 0.05"
            " per figure; fewer than 20 samples per arm is 'no evidence'.",
            *([args.note] if args.note else []),
            "",
            *(render_markdown(report) for report in found),
        ]
    )
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "ab_report.md").write_text(text)
    plot(found, args.results / "ab_report.png")
    print(text)
    print(f"wrote {args.results / 'ab_report.md'} and {args.results / 'ab_report.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
