"""The local platform's moto patches keep moto's answers (and break loudly when moto changes).

`sluice_local.moto_speedups` replaces moto internals; a moto upgrade that renames or reshapes
them must fail here, not slow or corrupt the local platform. Each side runs in its own
interpreter (the patches change moto for a whole process). The gain is measured by
`bench/moto_speedups_bench.py` (README, "Local platform").
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from moto_speedups_bench import run_side  # noqa: E402


def test_moto_answers_the_same_with_the_patches() -> None:
    # Given one scenario of SQS, DynamoDB transactions and EventBridge deliveries
    plain = run_side(patched=False, messages=70, items=30)

    # When it runs again on patched moto
    patched = run_side(patched=True, messages=70, items=30)

    # Then every answer is the same, and the scenario exercised what the patches touch
    assert patched["answers"] == plain["answers"]
    sqs, dynamodb = plain["answers"]["sqs"], plain["answers"]["dynamodb"]
    assert len(sqs["deleted"]) == 60
    assert len(sqs["received_again"]) == 10
    assert sqs["deleted_with_old_handles"]
    assert sqs["left"] == ["0", "0"]
    assert dynamodb["cancelled"] > 0
    assert ["new0", "9"] in dynamodb["items"]
    assert len(plain["answers"]["events"]) == 1
