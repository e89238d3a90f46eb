"""`make dashboard`'s reading of EMF documents, and the local platform's EMF sink."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from sluice.observability.panels import PANELS, Series
from sluice.observability.signals import ServedBy, Signals
from sluice_local.dashboard import render, samples, series_points, statistic
from sluice_local.observability import EmfSink

SERVED = ServedBy("intent", "primary", "v1")


def _emitted(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def test_statistics_are_cloudwatchs() -> None:
    values = [float(n) for n in range(1, 101)]
    assert statistic("Sum", values) == 5050
    assert statistic("Average", values) == 50.5
    assert statistic("Maximum", values) == 100
    assert statistic("p50", values) == 50
    assert statistic("p99", values) == 99


def test_a_series_reads_its_own_dimension_set_split_by_the_rest(capsys: pytest.CaptureFixture[str]) -> None:
    # Given api requests on two routes and one from the worker, as the functions print them
    api = Signals(service="sluice-api")
    api.request(SERVED, tenant="t", mode="sync", latency_ms=100, model_ms=80)
    api.request(SERVED, tenant="t", mode="sync", latency_ms=300, model_ms=200)
    api.request(ServedBy("chat", "llm", "v2"), tenant="t", mode="sync", latency_ms=50, model_ms=10)
    Signals(service="sluice-worker").micro_batch(SERVED, size=4, model_ms=20)
    read = list(samples([*_emitted(capsys), "not json", '{"level": "INFO"}']))

    # When the maximum latency per route of the api is read, in one bucket
    series = Series("LatencyMs", "Maximum", ("service", "route"), (("service", "sluice-api"),))
    points = series_points(series, read, bucket_seconds=3600)

    # Then there is one line per route, from the (service, route) rollup only
    assert {key: [value for _, value in line] for key, line in points.items()} == {
        ("intent",): [300.0],
        ("chat",): [50.0],
    }


def test_the_image_is_drawn_with_every_panel(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given some traffic's metrics
    api = Signals(service="sluice-api")
    for latency in (20, 40, 80):
        api.request(
            SERVED,
            tenant="t",
            mode="sync",
            latency_ms=latency,
            model_ms=latency / 2,
            outputs=[{"score": 0.3}],
        )
    api.error("INVALID_REQUEST", 400)
    api.redactions("intent", {"PERSON": 2})
    api.guardrails("intent", {"schema": "pass", "confidence": "flag"})
    read = list(samples(_emitted(capsys)))

    # When the dashboard is rendered
    image = tmp_path / "dashboard.png"
    drawn = render(read, image, title="test")

    # Then a PNG is written, with a series in the panels that had data
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn >= 7
    assert len(PANELS) == 10


def test_the_sink_keeps_every_emf_document_whole_when_threads_print_at_once(tmp_path: Path) -> None:
    # Given the sink over a console
    console = io.StringIO()
    kept = tmp_path / "emf.jsonl"
    sink = EmfSink(console, kept)
    document = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "n": "x" * 200})

    # When eight threads print 50 documents each (print writes the text and the newline apart),
    # among log lines
    def emit() -> None:
        for _ in range(50):
            print(document, file=sink)
            print('{"level": "INFO", "message": "log line"}', file=sink)

    threads = [threading.Thread(target=emit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()

    # Then the file holds the 400 documents, each intact, and no log line; the console has all
    lines = kept.read_text().splitlines()
    assert len(lines) == 400
    assert all(line == document for line in lines)
    assert console.getvalue().count("log line") == 400
