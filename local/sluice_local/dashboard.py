"""`make dashboard`: the stage dashboard's panels, drawn from the local platform's EMF metrics.

The panels are `sluice.observability.panels.PANELS`, the list the CDK dashboard is built from;
the data are the EMF documents the functions printed (kept by the local platform in
`.sluice/metrics/emf.jsonl`), aggregated as CloudWatch would: per minute (or coarser, for long
runs), per value of the series' split dimensions, with the series' statistic.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.observability.panels import PANELS, Panel, Series
from sluice_local.observability import EMF_FILE
from sluice_local.provision import STATE_DIR

DEFAULT_IMAGE = STATE_DIR / "dashboard.png"


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds
    metric: str
    dimension_sets: tuple[frozenset[str], ...]
    dimensions: dict[str, str]
    values: tuple[float, ...]


def samples(lines: Iterable[str]) -> Iterator[Sample]:
    """Every metric value of every EMF document in `lines` (other lines are skipped)."""
    for line in lines:
        try:
            document = json.loads(line)
            aws = document["_aws"]
        except (ValueError, KeyError, TypeError):
            continue
        for directive in aws.get("CloudWatchMetrics", []):
            sets = tuple(frozenset(names) for names in directive.get("Dimensions", []))
            names = set().union(*sets) if sets else set()
            dimensions = {name: str(document[name]) for name in names if name in document}
            for metric in directive.get("Metrics", []):
                raw = document.get(metric["Name"])
                values = raw if isinstance(raw, list) else [raw]
                numbers = tuple(float(v) for v in values if isinstance(v, int | float))
                if numbers:
                    yield Sample(aws["Timestamp"] / 1000, metric["Name"], sets, dimensions, numbers)


def statistic(stat: str, values: list[float]) -> float:
    if stat == "Sum":
        return sum(values)
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "Maximum":
        return max(values)
    if stat.startswith("p"):
        ordered = sorted(values)
        rank = math.ceil(float(stat[1:]) / 100 * len(ordered)) - 1
        return ordered[max(0, min(rank, len(ordered) - 1))]
    raise ValueError(f"unknown statistic {stat}")


def series_points(
    series: Series, all_samples: list[Sample], bucket_seconds: float
) -> dict[tuple[str, ...], list[tuple[float, float]]]:
    """One line per value of the series' split dimensions: (bucket start, statistic) points."""
    wanted = frozenset(series.dimensions)
    buckets: dict[tuple[str, ...], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for sample in all_samples:
        if sample.metric != series.metric or not (series.any_set or wanted in sample.dimension_sets):
            continue
        if any(sample.dimensions.get(name) != value for name, value in series.fixed):
            continue
        key = tuple(sample.dimensions.get(name, "") for name in series.split_by)
        start = math.floor(sample.at / bucket_seconds) * bucket_seconds
        buckets[key][start].extend(sample.values)
    return {
        key: sorted((start, statistic(series.stat, values)) for start, values in by_time.items())
        for key, by_time in buckets.items()
    }


def render(all_samples: list[Sample], image: Path, *, title: str) -> int:
    """Draw every panel into `image`; returns how many series had data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    times = [sample.at for sample in all_samples]
    span = (max(times) - min(times)) if times else 0
    # About 30 points across the run, never finer than CloudWatch's one minute... locally runs
    # are short, so ten seconds is the floor.
    bucket = max(10.0, math.ceil(span / 30 / 10) * 10)
    columns = 3
    rows = math.ceil(len(PANELS) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 3.6 * rows), squeeze=False)
    drawn = 0
    for index, panel in enumerate(PANELS):
        axis = axes[index // columns][index % columns]
        drawn += _draw(
            axis, panel, all_samples, bucket, mdates, span=(min(times, default=0), max(times, default=0))
        )
    for index in range(len(PANELS), rows * columns):
        axes[index // columns][index % columns].axis("off")
    figure.suptitle(f"{title}  ({bucket:.0f} s buckets)", fontsize=14)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    image.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(image, dpi=90)
    plt.close(figure)
    return drawn


def _draw(
    axis: Any,
    panel: Panel,
    all_samples: list[Sample],
    bucket: float,
    mdates: Any,
    *,
    span: tuple[float, float],
) -> int:
    axis.set_title(panel.title, fontsize=10)
    axis.set_ylabel(panel.unit, fontsize=9)
    drawn = 0
    for series in panel.series:
        for key, points in sorted(series_points(series, all_samples, bucket).items()):
            if not points:
                continue
            name = "/".join(part for part in key if part) or series.metric
            label = f"{name} {series.label}".strip() if len(panel.series) > 1 else name
            xs = [datetime.fromtimestamp(start, UTC) for start, _ in points]
            axis.plot(
                xs, [value for _, value in points], marker="o", markersize=2.5, linewidth=1.2, label=label
            )
            drawn += 1
    if drawn:
        axis.legend(fontsize=7, loc="upper left")
        # Every panel on the run's time range: a panel with one point (a cold start) would
        # otherwise be centred on an axis of its own, with no time on it.
        start, end = span
        axis.set_xlim(
            datetime.fromtimestamp(math.floor(start / bucket) * bucket, UTC),
            datetime.fromtimestamp(math.floor(end / bucket) * bucket + bucket, UTC),
        )
        axis.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        axis.tick_params(labelsize=8)
    else:
        axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes, color="grey")
        axis.set_xticks([])
        axis.set_yticks([])
    axis.grid(alpha=0.3)
    return drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--metrics", type=Path, default=EMF_FILE, help="EMF documents, one a line")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="where to write the PNG")
    parser.add_argument("--title", default="Sluice (local platform)")
    args = parser.parse_args(argv)
    if not args.metrics.exists():
        raise SystemExit(f"no metrics in {args.metrics}: start `make run` and send some requests first")
    with args.metrics.open(encoding="utf-8") as lines:
        all_samples = list(samples(lines))
    print(f"read {len(all_samples)} metric values from {args.metrics}", flush=True)
    drawn = render(all_samples, args.image, title=args.title)
    print(f"wrote {args.image}: {len(PANELS)} panels, {drawn} series")
    return 0


if __name__ == "__main__":
    sys.exit(main())
