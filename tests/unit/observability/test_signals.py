"""The operational metrics as EMF documents: names, units, dimension sets, bounded values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluice.observability.signals import ServedBy, Signals, TenantDimension, top_score

SERVED = ServedBy(route="intent", variant="AllTraffic", model_version="v7")


def _documents(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def _metrics(document: dict[str, Any]) -> dict[str, str]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}


def _value(document: dict[str, Any], name: str) -> float:
    """A metric's one value (Powertools writes values as EMF arrays)."""
    (value,) = document[name]
    return float(value)


def _sets(document: dict[str, Any]) -> list[set[str]]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return [set(names) for names in directive["Dimensions"]]


def test_a_sync_request_splits_its_latency_into_model_time_and_platform_overhead(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the api's signals
    signals = Signals(service="sluice-api", tenants=TenantDimension.parse("tenant-big"))

    # When a sync request took 120 ms, 90 of them in the model
    signals.request(SERVED, tenant="tenant-big", mode="sync", latency_ms=120.0, model_ms=90.0)

    # Then one document counts it with latency, model time and overhead in milliseconds
    (document,) = _documents(capsys)
    assert _metrics(document) == {
        "Requests": "Count",
        "LatencyMs": "Milliseconds",
        "ModelTimeMs": "Milliseconds",
        "PlatformOverheadMs": "Milliseconds",
    }
    assert (document["LatencyMs"], document["ModelTimeMs"], document["PlatformOverheadMs"]) == (
        [120.0],
        [90.0],
        [30.0],
    )
    # And under route, variant and model version, plus the rollups alarms read and a tenant set
    assert document["route"] == "intent"
    assert document["variant"] == "AllTraffic"
    assert document["model_version"] == "v7"
    assert document["service"] == "sluice-api"
    assert _sets(document) == [
        {"service", "route", "variant", "model_version", "mode"},
        {"service", "route"},
        {"service"},
        {"service", "route", "tenant"},
    ]
    assert document["tenant"] == "tenant-big"


def test_an_unlisted_tenant_is_counted_as_other_so_the_dimension_stays_bounded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given signals that list one tenant
    signals = Signals(service="sluice-api", tenants=TenantDimension.parse("tenant-big, "))

    # When a thousand other tenants send a request each
    for n in range(1000):
        signals.request(SERVED, tenant=f"tenant-{n}", mode="async", latency_ms=5.0, model_ms=0.0)

    # Then they share one tenant value
    assert {document["tenant"] for document in _documents(capsys)} == {"other"}


def test_errors_are_counted_by_code_and_by_class(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the api's signals
    signals = Signals(service="sluice-api")

    # When one request is refused for the caller's fault and one fails on the platform
    signals.error("INVALID_REQUEST", 400)
    signals.error("ENDPOINT_UNAVAILABLE", 503)

    # Then each is counted under its code, and its class for the error-rate alarm
    client, server = _documents(capsys)
    assert (client["error_code"], client["error_class"], _value(client, "RequestErrors")) == (
        "INVALID_REQUEST",
        "client",
        1.0,
    )
    assert (server["error_code"], server["error_class"]) == ("ENDPOINT_UNAVAILABLE", "server")
    assert _sets(server) == [{"service", "error_code"}, {"service", "error_class"}, {"service"}]


def test_redactions_are_counted_by_entity_type_and_nothing_else(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a request whose input had two names and an email removed
    signals = Signals(service="sluice-api")

    # When its redactions are reported
    signals.redactions("intent", {"PERSON": 2, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 0})

    # Then one document per entity type found carries its count
    documents = _documents(capsys)
    assert {(d["entity_type"], _value(d, "Redactions")) for d in documents} == {
        ("PERSON", 2.0),
        ("EMAIL_ADDRESS", 1.0),
    }
    assert all(_sets(d) == [{"service", "route", "entity_type"}] for d in documents)


def test_a_micro_batch_reports_its_size_model_time_and_low_confidence_outputs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the worker's signals, low confidence below 0.5
    signals = Signals(service="sluice-worker", low_confidence_below=0.5)
    outputs = [
        {"intents": [{"label": "card_arrival", "score": 0.91}]},
        {"intents": [{"label": "top_up", "score": 0.31}]},
        {"intents": [{"label": "refund", "score": 0.49}]},
    ]

    # When one model call served three jobs in 40 ms
    signals.micro_batch(SERVED, size=3, model_ms=40.0, outputs=outputs)

    # Then the batch's size and time are one document, the outputs and low-confidence ones another
    batch, confidence = _documents(capsys)
    assert (_value(batch, "MicroBatchSize"), _value(batch, "ModelTimeMs")) == (3.0, 40.0)
    assert _sets(batch) == [{"service", "route", "variant", "model_version"}, {"service", "route"}]
    assert (_value(confidence, "Outputs"), _value(confidence, "LowConfidenceOutputs")) == (3.0, 2.0)


def test_queue_ages_are_one_document_with_every_value(capsys: pytest.CaptureFixture[str]) -> None:
    # Given three jobs that waited 10, 250 and 4000 ms
    Signals(service="sluice-worker").queue_age("intent", [10.0, 250.0, 4000.0])

    # Then one document holds all three values (EMF arrays), in milliseconds
    (document,) = _documents(capsys)
    assert document["QueueAgeMs"] == [10.0, 250.0, 4000.0]
    assert _metrics(document) == {"QueueAgeMs": "Milliseconds"}


def test_the_confidence_of_an_output_is_its_top_score() -> None:
    assert top_score({"intents": [{"label": "a", "score": 0.7}, {"label": "b", "score": 0.2}]}) == 0.7
    assert top_score({"score": 0.4}) == 0.4
    assert top_score({"label": "a"}) is None
    assert top_score({"score": True}) is None
    assert top_score(["not", "a", "mapping"]) is None
