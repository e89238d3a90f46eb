"""`make run`'s --config-override: merged into cdk.json's config as an operator would expect."""

from __future__ import annotations

from sluice_local.platform import _merged


def test_objects_merge_key_by_key_and_named_lists_by_name() -> None:
    base = {
        "worker_function": {"memory_mb": 512, "timeout_seconds": 60},
        "routes": [{"name": "intent", "batch_size": 16}],
    }
    override = {
        "worker_function": {"timeout_seconds": 5},
        "routes": [{"name": "intent", "batch_size": 1}, {"name": "new"}],
    }

    assert _merged(base, override) == {
        "worker_function": {"memory_mb": 512, "timeout_seconds": 5},
        "routes": [{"name": "intent", "batch_size": 1}, {"name": "new"}],
    }


def test_other_lists_are_replaced_whole_even_when_empty() -> None:
    assert _merged({"alarm_emails": ["a@b.co"]}, {"alarm_emails": []}) == {"alarm_emails": []}
    assert _merged({"thresholds": [80, 100]}, {"thresholds": [50]}) == {"thresholds": [50]}
    assert _merged({"items": [{"a": 1}]}, {"items": [{"b": 2}]}) == {"items": [{"b": 2}]}
