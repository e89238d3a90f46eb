"""Real A/B evidence on the local platform: two model versions on `intent`, Banking77 test queries
through the API, labelled feedback from the dataset's true labels, then `make ab-report`.

1. A second model version (`intent-v2-small` in the route table; the endpoint's answers carry the
   artifact's own version, `banking77-minilm-lr-<digest>`): `model/train.py` (the same script as v1) on a
   stratified sample of train.csv (`--per-intent` rows of each intent, 10 by default, against v1's
   ~130), so the two versions really differ. Trained once into `.sluice/ab/v2` (about a minute:
   it encodes only the sample), reused after.
2. The local platform with a second variant `canary` on `intent` (weight 50/50, `--config-override`),
   and the local endpoint's guarded update (`sluice_local.local_deploy`'s green fleet) loading v2
   on `canary` and promoted, as SageMaker's blue/green update ends.
3. `--requests` Banking77 test queries (not the rows v2's own evaluation used), sync, each followed
   by feedback: rating 5 when the answer was the true intent, else rating 1 with the true label.
4. `sluice_local.ab_report` on that platform's records: bench/results/ab_report.md and .png.

    .venv/bin/python bench/ab_traffic.py [--requests 800] [--per-intent 10]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from sluice_local.launch import platform_process

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "banking77"
V2_DIR = ROOT / ".sluice" / "ab" / "v2"
V2_VERSION = "intent-v2-small"
# v2's own held-out check (train.py requires one) uses the first rows of test.csv; traffic the rest.
V2_TEST_ROWS = 200


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "category"])
        writer.writeheader()
        writer.writerows(rows)


def train_v2(per_intent: int, seed: int) -> None:
    if (V2_DIR / "metrics.json").exists():
        print(f"[1/4] v2 already trained in {V2_DIR.relative_to(ROOT)}", flush=True)
        return
    by_intent: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _rows(DATA / "train.csv"):
        by_intent[row["category"]].append(row)
    rng = random.Random(seed)
    sample = [row for rows in by_intent.values() for row in rng.sample(rows, min(per_intent, len(rows)))]
    with tempfile.TemporaryDirectory() as scratch:
        train, test = Path(scratch) / "train", Path(scratch) / "test"
        _write(train / "train.csv", sample)
        _write(test / "test.csv", _rows(DATA / "test.csv")[:V2_TEST_ROWS])
        for name in ("categories.json",):
            (train / name).write_text((DATA / name).read_text())
            (test / name).write_text((DATA / name).read_text())
        print(
            f"[1/4] training v2 on {len(sample)} rows ({per_intent} per intent) with model/train.py",
            flush=True,
        )
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "model" / "train.py"),
                "--model-dir",
                str(V2_DIR),
                "--train",
                str(train),
                "--test",
                str(test),
                "--min-accuracy",
                "0",
            ],
            check=True,
        )
    metrics = json.loads((V2_DIR / "metrics.json").read_text())
    print(f"      v2: held-out accuracy {metrics['accuracy']} on {metrics['n_test']} rows", flush=True)


def _override(v1_version: str) -> str:
    return json.dumps(
        {
            "routes": [
                {
                    "name": "intent",
                    "endpoint": {
                        "variants": [
                            {"name": "primary", "weight": 50, "model_version": v1_version},
                            # What the stack would deploy: the artifact's location. Locally every
                            # variant starts on `.sluice/model`; the guarded update below moves
                            # the canary onto this directory.
                            {
                                "name": "canary",
                                "weight": 50,
                                "model_version": V2_VERSION,
                                "model_data_url": V2_DIR.as_uri(),
                            },
                        ]
                    },
                }
            ]
        }
    )


def _echo_failure(line: str) -> None:
    """The platform's own lines that say why it stopped (its progress lines are left out)."""
    if "Error" in line or "error:" in line or "Traceback" in line:
        print("      platform: " + line.rstrip(), flush=True)


def _one(client: httpx.Client, headers: dict[str, str], row: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        "v1/inferences",
        json={"route": "intent", "input": {"text": row["text"]}, "mode": "sync"},
        headers=headers,
    )
    if response.status_code != 200:
        return {"status": response.status_code}
    body = response.json()
    predicted = body["output"]["intents"][0]["label"]
    right = predicted == row["category"]
    feedback = {"rating": 5} if right else {"rating": 1, "label": row["category"]}
    answered = client.post(f"v1/inferences/{body['id']}/feedback", json=feedback, headers=headers)
    return {"status": 200, "variant": body.get("variant"), "right": right, "feedback": answered.status_code}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--per-intent", type=int, default=10, help="v2's training rows per intent")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.monotonic()
    train_v2(args.per_intent, args.seed)
    v1_version = json.loads((ROOT / ".sluice" / "model" / "metrics.json").read_text())["model_version"]
    v2_version = json.loads((V2_DIR / "metrics.json").read_text())["model_version"]
    rows = _rows(DATA / "test.csv")[V2_TEST_ROWS:]
    random.Random(args.seed).shuffle(rows)
    rows = rows[: args.requests]
    print("[2/4] starting the local platform with intent: primary (v1) 50% / canary (v2) 50%", flush=True)
    with platform_process("--config-override", _override(v1_version), echo=_echo_failure) as outputs:
        endpoint = outputs["SageMakerRuntimeEndpointUrl"].rstrip("/")
        name = outputs["EndpointNameIntent"]
        with httpx.Client(base_url=endpoint, timeout=600) as control:
            # The local endpoint's blue/green update: v2 as the canary variant's green fleet, all of
            # its traffic, then promoted (what SageMaker does once the bakes pass).
            control.post(
                f"/_local/rollouts/{name}/canary", json={"model_dir": str(V2_DIR), "share": 1.0}
            ).raise_for_status()
            control.post(f"/_local/rollouts/{name}/canary/promote").raise_for_status()
        print(f"      canary serves {V2_DIR.relative_to(ROOT)} ({v2_version})", flush=True)
        headers = {"x-api-key": outputs["ApiKey"]}
        print(f"[3/4] {len(rows)} Banking77 test queries, each with feedback from its true label", flush=True)
        results = []
        with (
            httpx.Client(base_url=outputs["ApiUrl"], timeout=60) as client,
            ThreadPoolExecutor(args.concurrency) as pool,
        ):
            futures = [pool.submit(_one, client, headers, row) for row in rows]
            for future in tqdm(futures, unit="req", file=sys.stdout, mininterval=5):
                results.append(future.result())
        refused = [r for r in results if r["status"] != 200 or r.get("feedback") != 200]
        print(f"      {len(results) - len(refused)} answered with feedback, {len(refused)} not", flush=True)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as outputs_file:
            outputs_file.write(json.dumps(outputs))
            outputs_file.flush()
            print("[4/4] the A/B report from the platform's records", flush=True)
            note = (
                f"Traffic: `make ab-traffic` ({len(rows)} Banking77 test queries, sync, 50/50 between"
                f" `primary` = {v1_version} (v1, all of train.csv) and `canary` = {v2_version}"
                f" ({args.per_intent} train rows per intent); feedback from the true labels)."
                f" Took {time.monotonic() - started:.0f} s."
            )
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sluice_local.ab_report",
                    "--route",
                    "intent",
                    "--outputs",
                    outputs_file.name,
                    "--note",
                    note,
                ],
                check=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
