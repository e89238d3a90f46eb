"""Mixed traffic through the local platform, then its dashboard image and a tenant's audit trail.

Starts `sluice_local.platform` on free ports (its EMF metrics in a scratch file), sends sync and
async requests (some carrying personal data, some refused: unknown route, missing field,
malformed JSON), follows the async jobs to their end, redrives a dead-letter queue (an
administrative action), then draws `make dashboard`'s panels from what the functions emitted
into bench/results/dashboard.png and prints `make audit`'s view of the tenant and the platform.

    .venv/bin/python bench/dashboard_traffic.py [--requests 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from sluice_local.launch import platform_process

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "bench" / "results" / "dashboard.png"
TEXTS = [
    "I still have not received my new card",
    "my card payment was declined at the shop",
    "how do I top up by bank transfer",
    "My name is Jane Doe and my email is jane.doe@example.com, where is my refund?",
    "please call me on +44 20 7946 0958 about the exchange rate",
    "can I change my PIN at an ATM",
    "Anna Kowalska from Berlin here: my transfer is pending",
    "why was I charged a fee for cash withdrawal",
    # Out of the model's domain: answered with a low top score, so the confidence check flags them
    # (the guardrails panel and the review queue have something to show).
    "what will the weather be like on mars next week",
    "tell me a joke about penguins",
]


def _request(number: int) -> tuple[dict[str, Any] | None, str | None]:
    """The body (or raw text) of request `number`: mostly valid, one in ten refused."""
    text = TEXTS[number % len(TEXTS)]
    kind = number % 20
    if kind == 7:
        return {"route": "no-such-route", "input": {"text": text}}, None
    if kind == 13:
        return {"route": "intent", "input": {}}, None
    if kind == 17:
        return None, '{"route": "intent", "input": '
    mode = "async" if number % 3 == 0 else "sync"
    return {"route": "intent", "input": {"text": text}, "mode": mode}, None


def _show_audit(tenant: str, outputs_file: Path) -> None:
    """`make audit`'s view of `tenant` (the first and last records of a long trail); waits up to
    30 s for the audit function to file what the bus delivered."""
    command = [sys.executable, "-m", "sluice_local.audit", "--tenant", tenant, "--since", "1h", "--outputs"]
    deadline = time.monotonic() + 30
    while True:
        done = subprocess.run([*command, str(outputs_file)], capture_output=True, text=True, check=False)
        if ": 0 records" not in done.stdout or time.monotonic() > deadline:
            break
        time.sleep(1)
    lines = done.stdout.splitlines()
    shown = lines if len(lines) <= 12 else [*lines[:8], f"  ... {len(lines) - 10} more ...", *lines[-2:]]
    print("\n".join(shown), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--image", type=Path, default=IMAGE)
    args = parser.parse_args(argv)
    metrics = Path(tempfile.mkdtemp()) / "emf.jsonl"
    print(f"starting the local platform (metrics in {metrics})", flush=True)
    with platform_process("--metrics-file", str(metrics), "--log-level", "WARNING") as outputs:
        url = outputs["ApiUrl"] + "v1/inferences"
        headers = {"x-api-key": outputs["ApiKey"], "content-type": "application/json"}
        statuses: Counter[int] = Counter()
        jobs: list[str] = []
        with httpx.Client(timeout=30) as client:

            def send(number: int) -> None:
                body, raw = _request(number)
                extra = {"X-Correlation-Id": f"dashboard-demo-{number:05d}"} if number % 2 else {}
                response = client.post(
                    url,
                    headers={**headers, **extra},
                    **({"json": body} if body is not None else {"content": raw}),
                )
                statuses[response.status_code] += 1
                if response.status_code == 202:
                    jobs.append(response.json()["id"])

            with ThreadPoolExecutor(args.concurrency) as pool:
                list(tqdm(pool.map(send, range(args.requests)), total=args.requests, desc="requests"))
            print(f"answers by status: {dict(sorted(statuses.items()))}", flush=True)
            open_jobs = set(jobs)
            deadline = time.monotonic() + 180
            with tqdm(total=len(jobs), desc="async jobs final") as progress:
                while open_jobs and time.monotonic() < deadline:
                    for job_id in list(open_jobs):
                        answer = client.get(f"{url}/{job_id}", headers=headers).json()
                        if answer.get("status") in ("succeeded", "failed"):
                            open_jobs.discard(job_id)
                            progress.update(1)
                    time.sleep(0.5)
        print(f"async jobs still open: {len(open_jobs)}", flush=True)
        outputs_file = Path(tempfile.mkdtemp()) / "outputs.json"
        outputs_file.write_text(json.dumps(outputs))
        # An administrative action for the trail: an (empty) dead-letter queue redriven.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sluice_local.redrive",
                "--queue",
                "intent",
                "--outputs",
                str(outputs_file),
            ],
            check=True,
        )
        for tenant in ("_platform", outputs["ApiKeyId"]):
            _show_audit(tenant, outputs_file)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sluice_local.dashboard",
            "--metrics",
            str(metrics),
            "--image",
            str(args.image),
        ],
        check=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
