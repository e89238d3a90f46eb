"""Contract tests: the shapes other systems depend on must not drift by accident."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sluice.events import Event, InferenceCompleted
from sluice.jobs.models import InferenceMode, Job, JobMessage, JobStatus
from sluice.serving.models import InferenceRequest, JobView


def test_inference_request_defaults_to_sync_and_forbids_unknown_fields() -> None:
    request = InferenceRequest.model_validate({"route": "intent", "input": {"text": "hi"}})
    assert request.mode is InferenceMode.SYNC
    with pytest.raises(ValidationError):
        InferenceRequest.model_validate({"route": "intent", "input": {"text": "hi"}, "priority": 1})


def test_job_view_never_exposes_tenant_or_bookkeeping() -> None:
    job = Job(id="a" * 32, tenant="tenant-acme", route="intent", attempts=2, correlation_id="c")
    assert set(JobView.of(job).model_dump()) == {
        "id",
        "route",
        "status",
        "created_at",
        "updated_at",
        "endpoint",
        "variant",
        "model_version",
        "output",
        "guardrails",
        "error",
    }


def test_final_statuses() -> None:
    assert [status for status in JobStatus if status.is_final] == [JobStatus.SUCCEEDED, JobStatus.FAILED]


def test_job_message_requires_a_well_formed_job_id() -> None:
    with pytest.raises(ValidationError):
        JobMessage(job_id="../../etc", tenant="t", route="intent", input={})


def test_inference_completed_envelope_is_versioned_and_carries_no_payload_fields() -> None:
    detail = InferenceCompleted(job_id="a" * 32, tenant="t", route="intent", status=JobStatus.SUCCEEDED)

    envelope = Event.wrap(detail, correlation_id="req-1").model_dump(mode="json")

    assert set(envelope) == {"metadata", "detail"}
    assert set(envelope["metadata"]) == {"event_id", "name", "version", "correlation_id", "created_at"}
    assert (envelope["metadata"]["name"], envelope["metadata"]["version"]) == ("InferenceCompleted", 1)
    assert set(envelope["detail"]) == {
        "job_id",
        "tenant",
        "route",
        "status",
        "endpoint",
        "variant",
        "model_version",
        "error_code",
    }
