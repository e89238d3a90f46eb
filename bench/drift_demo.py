"""`make drift-demo`: the model lifecycle from start to end, on real Banking77 data and the running
local platform, each step printed with its figures.

 1. v1 is trained by model/train.py without `--unseen` intents (10 of the 77, a seeded draw).
 2. The local platform starts with v1 on `intent`; the local endpoint captures its traffic
    (sluice_local.capture, SageMaker's DataCapture format) to the lifecycle bucket on moto.
 3. Traffic of the known intents (test.csv), through the API: the drift monitor (the
    drift_monitor function's own wiring, on its schedule's event) judges the hour: stable.
 4. Traffic in which the unseen intents appear: the monitor fires `DriftDetected`.
 5. Labelled feedback through the feedback API (users' ratings; corrections naming the new intents);
    the feedback_export function writes it where the pipeline reads it (`LabelledFeedbackArrived`).
 6. Retraining: model/pipeline/run_local.py, the pipeline definition `make retrain` runs (prepare,
    train.py, the golden-query gate, register), v2 against v1: approved and registered.
 7. The canary: v2 rolled out on the local endpoint by the same Deployer as in AWS
    (sluice_local.local_deploy): canary share, bake, all traffic, bake, promoted; `ModelDeployed`.
 8. Golden-set accuracy of v1 and v2 side by side, per slice.
 9. A worse candidate: feedback with a labelling bug (each new intent's label shifted to the next),
    the same pipeline against v2: the gate rejects it, naming the failing slices; `ModelRejected`.
10. A canary rolled back: a package whose artifact fails at serving (its head was built for a
    768-dimension encoder; a fault made on purpose for the demo, not a trained model) takes the
    canary share, the 5XX alarm fires, everything goes back to v2; `ModelRolledBack`.

Encoding Banking77 is the slow part: the embeddings come from `.sluice/cache` (bench/
banking77_embeddings.py, as `make drift-bench`; about 5 minutes the first time), and train.py reuses
them where the texts match (its opt-in SLUICE_EMBEDDING_CACHE); the pipeline definition and the
gate's scoring (latency included) are unchanged. Working files in `.sluice/drift-demo/`.

    .venv/bin/python bench/drift_demo.py [--unseen 10] [--seed 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "layers"), str(ROOT / "model")]

DATA = ROOT / "data" / "banking77"
GOLDEN = ROOT / "model" / "golden" / "intent.jsonl"
WORK = ROOT / ".sluice" / "drift-demo"
CACHE = ROOT / ".sluice" / "cache"
ROUTE = "intent"
STARTED = time.monotonic()


def say(message: str = "") -> None:
    print(f"[{time.monotonic() - STARTED:5.0f}s] {message}" if message else "", flush=True)


# --- data: which intents v1 never sees, and the traffic --------------------------------------------


@dataclass(frozen=True)
class Row:
    text: str
    label: str


def read_rows(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [Row(row["text"], row["category"]) for row in csv.DictReader(handle)]


def write_rows(path: Path, rows: Sequence[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows((row.text, row.label) for row in rows)


def choose_unseen(labels: Sequence[str], count: int, seed: int) -> list[str]:
    """A seeded draw of the intents v1 is trained without."""
    return sorted(random.Random(seed).sample(sorted(set(labels)), count))


def without(rows: Sequence[Row], labels: set[str]) -> list[Row]:
    return [row for row in rows if row.label not in labels]


def only(rows: Sequence[Row], labels: set[str]) -> list[Row]:
    return [row for row in rows if row.label in labels]


def mixed_traffic(
    seen: Sequence[Row], unseen: Sequence[Row], *, size: int, unseen_share: float, seed: int
) -> list[Row]:
    """`size` queries of which exactly round(size * unseen_share) are of unseen intents, shuffled."""
    rng = random.Random(seed)
    novel = round(size * unseen_share)
    window = rng.sample(list(seen), size - novel) + rng.sample(list(unseen), novel)
    rng.shuffle(window)
    return window


def shifted_labels(labels: Sequence[str]) -> dict[str, str]:
    """A labelling bug: each label replaced by the next one of `labels` (sorted, wrapping around)."""
    ordered = sorted(labels)
    return {label: ordered[(index + 1) % len(ordered)] for index, label in enumerate(ordered)}


def write_base(folder: Path, train: Sequence[Row], test: Sequence[Row]) -> Path:
    """A base data set as the pipeline's `base` input: train.csv, test.csv and the route's labels
    (all 77: feedback may name an intent the base rows lack)."""
    write_rows(folder / "train.csv", train)
    write_rows(folder / "test.csv", test)
    shutil.copy2(DATA / "categories.json", folder / "categories.json")
    return folder


def embedding_cache() -> Path:
    """Every Banking77 text and golden query with its embedding, for train.py's and evaluate.py's
    SLUICE_EMBEDDING_CACHE (the golden set's curated queries are encoded here once)."""
    import banking77_embeddings
    import train

    splits = [banking77_embeddings.load(name) for name in ("train", "test")]
    texts = [text for split in splits for text in split.texts]
    vectors = [split.embeddings for split in splits]
    known = set(texts)
    curated = sorted(
        {json.loads(line)["text"] for line in GOLDEN.read_text().splitlines() if line.strip()} - known
    )
    path = CACHE / "banking77-texts.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as cached:
            if (
                cached["texts"].tolist() == [*texts, *curated]
                and str(cached["encoder"]) == train.ENCODER_NAME
            ):
                return path
    if curated:
        import inference

        device = inference.default_device()
        encoder = inference.load_encoder(device=device)
        vectors.append(inference.embed(encoder, curated, device=device).cpu().numpy())
    np.savez(
        path,
        texts=np.array([*texts, *curated]),
        vectors=np.vstack(vectors).astype(np.float32),
        encoder=np.array(train.ENCODER_NAME),
    )
    return path


def trained_v1(base: Path, cache: Path) -> Path:
    """v1, by model/train.py on `base`; kept in .sluice/cache and reused while train.py, inference.py
    and the data are the same (same inputs and seed give the same model, as its version says)."""
    import hashlib

    digest = hashlib.sha256()
    for path in (
        ROOT / "model" / "train.py",
        ROOT / "model" / "inference.py",
        base / "train.csv",
        base / "test.csv",
    ):
        digest.update(path.read_bytes())
    model = CACHE / f"drift-demo-v1-{digest.hexdigest()[:16]}"
    if (model / "metrics.json").exists():
        say(
            f"      reused from {model.relative_to(ROOT)} (trained by an earlier run on the same data and code)"
        )
        return model
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "model" / "train.py"),
            "--train",
            str(base),
            "--test",
            str(base),
            "--model-dir",
            str(model),
        ],
        cwd=ROOT,
        env={**os.environ, "SLUICE_EMBEDDING_CACHE": str(cache), "TQDM_DISABLE": "1"},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return model


def broken_artifact(source: Path, target: Path) -> str:
    """A copy of `source` whose head expects 768-dimension embeddings (an artifact paired with the
    wrong encoder at packaging): it loads, and every prediction fails. Returns its version label."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.name == "encoder":
            (target / "encoder").symlink_to(item.resolve())
        elif item.is_file():
            shutil.copy2(item, target / item.name)
        else:
            shutil.copytree(item, target / item.name)
    with np.load(source / "head.npz", allow_pickle=False) as head:
        coef, intercept = head["coef"], head["intercept"]
    np.savez(target / "head.npz", coef=np.pad(coef, ((0, 0), (0, 768 - coef.shape[1]))), intercept=intercept)
    manifest = json.loads((source / "model.json").read_text())
    manifest["model_version"] = f"{manifest['model_version']}-768d"
    (target / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return str(manifest["model_version"])


# --- the platform: requests, events, the lifecycle functions ---------------------------------------


@dataclass
class Answer:
    row: Row
    status: int
    id: str = ""
    label: str = ""
    score: float = 0.0
    model_version: str = ""

    @property
    def right(self) -> bool:
        return self.status == 200 and self.label == self.row.label


@dataclass
class Platform:
    outputs: dict[str, Any]
    client: httpx.Client
    events_queue: str
    sqs: Any
    s3: Any
    seen_events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.outputs["ApiKey"]}

    def infer(self, row: Row) -> Answer:
        response = self.client.post(
            "v1/inferences",
            json={"route": ROUTE, "input": {"text": row.text}, "mode": "sync"},
            headers=self.headers,
        )
        if response.status_code != 200:
            return Answer(row, response.status_code)
        body = response.json()
        top = body["output"]["intents"][0]
        return Answer(row, 200, body["id"], top["label"], float(top["score"]), str(body.get("model_version")))

    def send(self, rows: Sequence[Row], *, concurrency: int = 4) -> list[Answer]:
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(self.infer, rows))

    def feedback(self, answer: Answer, body: dict[str, Any]) -> int:
        response = self.client.post(f"v1/inferences/{answer.id}/feedback", json=body, headers=self.headers)
        return response.status_code

    def events(self, name: str, *, wait_seconds: float = 10) -> list[dict[str, Any]]:
        """The platform bus's `name` events seen so far (waiting up to `wait_seconds` for one)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            self.seen_events += [
                {"name": detail_type, **detail} for detail_type, detail in _take(self.sqs, self.events_queue)
            ]
            found = [event for event in self.seen_events if event["name"] == name]
            if found or time.monotonic() > deadline:
                self.seen_events = [event for event in self.seen_events if event["name"] != name]
                return found
            time.sleep(0.5)

    def captured(self) -> int:
        """Capture records in the lifecycle bucket (one per invocation)."""
        total = 0
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.outputs["LifecycleBucket"], Prefix="datacapture/"
        )
        for page in pages:
            for item in page.get("Contents", []):
                body = self.s3.get_object(Bucket=self.outputs["LifecycleBucket"], Key=item["Key"])["Body"]
                total += len(body.read().splitlines())
        return total

    def wait_for_capture(self, expected: int, timeout_s: float = 30) -> int:
        deadline = time.monotonic() + timeout_s
        while (count := self.captured()) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        return count


def _take(sqs: Any, queue_url: str) -> list[tuple[str, dict[str, Any]]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    if messages:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )
    events = [json.loads(message["Body"]) for message in messages]
    return [(event["detail-type"], dict(event["detail"]["detail"])) for event in events]


def aws_environment(outputs: dict[str, Any]) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": outputs["AwsEndpointUrl"],
        "AWS_ENDPOINT_URL_DYNAMODB": outputs["DynamoDbEndpointUrl"],
        "AWS_DEFAULT_REGION": outputs["Region"],
        "AWS_REGION": outputs["Region"],
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "Sluice",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def run_drift_monitor(outputs: dict[str, Any], when: datetime) -> list[Any]:
    """The drift_monitor function's wiring (sluice.runtime.drift_monitor: settings from the
    environment the stack renders, build, run_scheduled) on its schedule event at `when`."""
    from sluice.config import DeploymentConfig
    from sluice.lifecycle.monitor import MonitoredEndpoint
    from sluice.runtime import drift_monitor

    config = DeploymentConfig.model_validate(json.loads((ROOT / "cdk.json").read_text())["context"]["sluice"])
    settings = drift_monitor.Settings(
        service_name="sluice-drift_monitor",
        capture_bucket=outputs["LifecycleBucket"],
        capture_prefix="datacapture",
        baseline_bucket=outputs["LifecycleBucket"],
        baseline_prefix="baselines",
        event_bus_name=outputs["EventBusName"],
        endpoints=[MonitoredEndpoint(route=ROUTE, endpoint=outputs["EndpointNameIntent"])],
        policy=config.lifecycle.drift,
        feedback_table=outputs["FeedbackTableName"],
        quality=config.lifecycle.quality,
    )
    settings = drift_monitor.Settings.from_environment(settings.environment())
    monitor = drift_monitor.build(settings)
    event = {"id": f"drift-demo-{when:%H%M%S}", "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    drift, _ = drift_monitor.run_scheduled(event, settings, monitor)
    return drift


def run_feedback_export(outputs: dict[str, Any], when: datetime) -> Any:
    """The feedback_export function's wiring on its schedule event at `when`."""
    from sluice.runtime import feedback_export

    settings = feedback_export.Settings.from_environment(
        feedback_export.Settings(
            service_name="sluice-feedback_export",
            feedback_table=outputs["FeedbackTableName"],
            training_data_bucket=outputs["LifecycleBucket"],
            event_bus_name=outputs["EventBusName"],
            routes=[ROUTE],
        ).environment()
    )
    exporter = feedback_export.build(settings)
    event = {"id": f"export-demo-{when:%H%M%S}", "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    [report] = feedback_export.run_scheduled(event, settings, exporter)
    return report


def published_baseline(platform: Platform, model_dir: Path) -> str:
    """Where the monitor finds this model's baseline, which the platform publishes at start (the
    stack seeds it) and a rollout publishes for a new version; fails the demo if it is not there."""
    from sluice.adapters.s3_baselines import S3Baselines
    from sluice.lifecycle.drift import DriftBaseline

    version = DriftBaseline.model_validate_json((model_dir / "baseline.json").read_text()).model_version
    store = S3Baselines(platform.s3, bucket=platform.outputs["LifecycleBucket"], prefix="baselines")
    if store.baseline(version) is None:
        raise SystemExit(f"no baseline for {version} in the lifecycle bucket: the monitor could not judge it")
    return store.key(version)


class Background(threading.Thread):
    """Callers that keep sending queries while a canary bakes (the alarms need real answers)."""

    def __init__(self, platform: Platform, rows: Sequence[Row], *, per_second: float = 8) -> None:
        super().__init__(daemon=True)
        self._platform, self._rows, self._pause = platform, list(rows), 1 / per_second
        self._halt = threading.Event()
        self.answers: list[Answer] = []

    def run(self) -> None:
        position = 0
        while not self._halt.wait(self._pause):
            self.answers.append(self._platform.infer(self._rows[position % len(self._rows)]))
            position += 1

    def stop(self) -> list[Answer]:
        self._halt.set()
        self.join()
        return self.answers


@contextmanager
def running_platform(model_dir: Path) -> Iterator[Platform]:
    from sluice_local.launch import platform_process
    from sluice_local.outputs import local_session, subscribe_queue

    def echo(line: str) -> None:
        if "Error" in line or "error:" in line or "Traceback" in line:
            print("      platform: " + line.rstrip(), flush=True)

    with platform_process("--model-dir", str(model_dir), echo=echo) as outputs:
        os.environ.update(aws_environment(outputs))
        session = local_session(outputs)
        aws = outputs["AwsEndpointUrl"]
        sqs = session.client("sqs", endpoint_url=aws)
        queue = subscribe_queue(
            sqs,
            session.client("events", endpoint_url=aws),
            bus=outputs["EventBusName"],
            name="drift-demo-lifecycle-events",
            pattern={
                "detail-type": [
                    "DriftDetected",
                    "LabelledFeedbackArrived",
                    "ModelDeployed",
                    "ModelRolledBack",
                    "ModelRejected",
                ]
            },
        )
        with httpx.Client(base_url=outputs["ApiUrl"], timeout=60) as client:
            yield Platform(outputs, client, queue, sqs, session.client("s3", endpoint_url=aws))


# --- the pipeline ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineRun:
    execution: str
    steps: list[tuple[str, str]]
    evaluation: dict[str, Any]
    report: dict[str, Any]
    seconds: float

    @property
    def approved(self) -> bool:
        return int(self.evaluation.get("approved", 0)) == 1


def run_pipeline(
    base: Path, feedback: Path, incumbent: Path, *, cache: Path, parameters: dict[str, str]
) -> PipelineRun:
    """model/pipeline/run_local.py (`make retrain`'s runner of the deployed definition), its output
    indented; train.py reuses the cached embeddings where the texts match."""
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "model" / "pipeline" / "run_local.py"),
            "--base",
            str(base),
            "--feedback",
            str(feedback),
            "--incumbent",
            str(incumbent),
            "--workdir",
            str(WORK / "lifecycle"),
            *(f"--parameter={name}={value}" for name, value in parameters.items()),
        ],
        cwd=ROOT,
        env={**os.environ, "SLUICE_EMBEDDING_CACHE": str(cache), "TQDM_DISABLE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if _worth_showing(line):
            print("        | " + line.rstrip(), flush=True)
    process.wait()
    summary = json.loads("".join(lines)["".join(lines).rindex('{\n "execution"') :])
    evaluation_dir = WORK / "lifecycle" / "runs" / ROUTE / summary["execution"] / "evaluation"
    return PipelineRun(
        execution=summary["execution"],
        steps=[tuple(step) for step in summary["steps"]],  # type: ignore[misc]
        evaluation=json.loads((evaluation_dir / "evaluation.json").read_text()),
        report=json.loads((evaluation_dir / "gate_report.json").read_text()),
        seconds=time.monotonic() - started,
    )


def _worth_showing(line: str) -> bool:
    quiet = ("Batches", "Loading weights", "INFO:", "DEBUG:", "WARNING:", "warn", '"', "{", "}", "[", "]")
    return bool(line.strip()) and not line.lstrip().startswith(quiet) and "Batches:" not in line


def gate_table(report: dict[str, Any], incumbent: str, candidate: str) -> list[str]:
    lines = [f"{'slice':<14} {'n':>4} {incumbent:>9} {candidate:>9}  verdict"]
    for result in report["slices"]:
        old = result["incumbent_accuracy"]
        verdict = "ok" if result["passed"] else f"FAILED (tolerance {result['tolerance']:.2f})"
        lines.append(
            f"{result['name']:<14} {result['queries']:>4} "
            f"{old if old is None else format(old, '.3f'):>9} {result['candidate_accuracy']:>9.3f}  {verdict}"
        )
    p95 = report["latency_p95_ms"]
    incumbent_p95 = "-" if p95["incumbent"] is None else f"{p95['incumbent']:.0f}"
    lines.append(f"{'p95 latency':<14} {'':>4} {incumbent_p95:>7}ms {p95['candidate']:>7.0f}ms")
    return lines


def publish_rejection(platform: Platform, run: PipelineRun) -> dict[str, Any] | None:
    """What the deploy function does on a failed run: `ModelRejected` from the run's gate report
    (sluice.lifecycle.rejections), on the platform bus."""
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.events import Event
    from sluice.lifecycle.rejections import rejection

    class LocalReports:
        def read(self, route: str, execution_id: str, name: str) -> dict[str, Any] | None:
            path = WORK / "lifecycle" / "runs" / route / execution_id / "evaluation" / name
            return json.loads(path.read_text()) if path.exists() else None

        def uri(self, route: str, execution_id: str) -> str:
            return f"s3://local/runs/{route}/{execution_id}/evaluation/gate_report.json"

    detail = rejection(ROUTE, run.execution, LocalReports())
    if detail is None:
        return None
    events = platform.outputs
    EventBridgePublisher(platform_client(platform, "events"), events["EventBusName"]).publish(
        Event.wrap(detail, correlation_id=run.execution)
    )
    return detail.model_dump(mode="json")


def platform_client(platform: Platform, service: str) -> Any:
    from sluice_local.outputs import local_session

    return local_session(platform.outputs).client(service, endpoint_url=platform.outputs["AwsEndpointUrl"])


def package_of(registry_entry: dict[str, Any], version: str) -> Any:
    from sluice.lifecycle.rollout import PackageVersion

    return PackageVersion(
        arn=f"local:sluice-local-{ROUTE}/{registry_entry['version']}",
        route=ROUTE,
        model_version=version,
        image="local",
        model_data_url=str(registry_entry["model_data"]),
        baseline_uri=str(Path(registry_entry["model_data"]) / "baseline.json"),
    )


def accuracy(answers: Sequence[Answer]) -> float:
    answered = [answer for answer in answers if answer.status == 200]
    return sum(answer.right for answer in answered) / max(1, len(answered))


def verdict_line(verdict: Any) -> str:
    test = verdict.test
    if test is None:
        return f"{verdict.variant}@{verdict.model_version}: {verdict.outcome} ({verdict.answers} answers)"
    return (
        f"{verdict.variant}@{verdict.model_version}: {verdict.outcome.upper()}: low-confidence share "
        f"{test.statistic:.3f} against a threshold of {test.threshold:.3f} "
        f"(p = {test.p_value:.2g}, alpha 0.01, {test.window_size} answers)"
    )


def roll_out(
    platform: Platform, package: Any, traffic: Sequence[Row], *, bake_seconds: int
) -> tuple[str | None, list[Answer]]:
    from sluice_local.rollback import local_deployer

    deployer, endpoint, variant = local_deployer(
        platform.outputs,
        ROUTE,
        bake_seconds=bake_seconds,
        state_dir=WORK,
        progress=lambda line: say("    " + line.strip()),
    )
    say(f"    rolling {package.model_version} onto {endpoint}/{variant}, with callers sending queries")
    background = Background(platform, traffic)
    background.start()
    try:
        deployer.start(package, reason="approved")
        outcome = deployer.settle(endpoint, correlation_id=None)
    finally:
        answers = background.stop()
    return outcome, answers


# --- the scenario ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--unseen", type=int, default=10, help="intents v1 is trained without")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--normal", type=int, default=200, help="queries of the first, normal hour")
    parser.add_argument("--shifted", type=int, default=150, help="queries of the shifted traffic")
    parser.add_argument("--shift", type=float, default=2 / 3, help="share of them from the unseen intents")
    parser.add_argument("--bake-seconds", type=int, default=15, help="each canary bake (AWS: 600)")
    parser.add_argument(
        "--latency-budget-ms",
        type=int,
        default=3000,
        help="the pipeline's LatencyBudgetMs for the gate (its default, 1000, assumes an idle CPU)",
    )
    args = parser.parse_args(argv)
    parameters = {"LatencyBudgetMs": str(args.latency_budget_ms)}
    figures: dict[str, Any] = {}

    say("[0/10] data: Banking77 and its cached embeddings")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    cache = embedding_cache()
    train_rows, test_rows = read_rows(DATA / "train.csv"), read_rows(DATA / "test.csv")
    golden_texts = {json.loads(line)["text"] for line in GOLDEN.read_text().splitlines() if line.strip()}
    unseen = choose_unseen([row.label for row in train_rows], args.unseen, args.seed)
    unseen_set = set(unseen)
    say(f"      {len(unseen)} of 77 intents kept out of v1: {', '.join(unseen)}")
    base = write_base(WORK / "data" / "base", without(train_rows, unseen_set), without(test_rows, unseen_set))
    # Traffic never includes a golden query (the gate scores them) nor a row v1 was trained on.
    seen_pool = [row for row in without(test_rows, unseen_set) if row.text not in golden_texts]
    unseen_pool = only(train_rows, unseen_set)  # never in v1's training: new to it
    random.Random(args.seed).shuffle(seen_pool)

    say(
        f"[1/10] v1: model/train.py on {len(without(train_rows, unseen_set))} rows of the other {77 - len(unseen)} intents"
    )
    v1 = trained_v1(base, cache)
    v1_metrics = json.loads((v1 / "metrics.json").read_text())
    v1_version = v1_metrics["model_version"]
    say(
        f"      {v1_version}: held-out accuracy {v1_metrics['accuracy']:.3f} on {v1_metrics['n_test']} test rows of its intents"
    )

    say("[2/10] the local platform with v1 on `intent` (its endpoint captures to the lifecycle bucket)")
    with running_platform(v1) as platform:
        key = published_baseline(platform, v1)
        baseline = json.loads((v1 / "baseline.json").read_text())["confidence"]
        say(
            f"      ready at {platform.outputs['ApiUrl']}; v1's baseline at s3://{platform.outputs['LifecycleBucket']}/{key}: "
            f"{baseline['rate']:.3f} of held-out answers score below {baseline['threshold']:.3f}"
        )

        say(f"[3/10] an hour of normal traffic: {args.normal} queries of v1's intents through the API")
        normal = platform.send(seen_pool[: args.normal])
        captured = platform.wait_for_capture(len(normal))
        say(f"      v1 answered {accuracy(normal):.3f} right; {captured} invocations captured")
        first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        [verdict] = run_drift_monitor(platform.outputs, first)
        say(
            f"      drift monitor, window {first - timedelta(hours=1):%H:%M:%S}-{first:%H:%M:%S}: {verdict_line(verdict)}"
        )
        figures["normal"] = verdict

        say(
            f"[4/10] the traffic shifts: {args.shifted} queries, {args.shift:.0%} of them of the {len(unseen)} unseen intents"
        )
        shifted_rows = mixed_traffic(
            seen_pool[args.normal :], unseen_pool, size=args.shifted, unseen_share=args.shift, seed=args.seed
        )
        shifted = platform.send(shifted_rows)
        captured = platform.wait_for_capture(len(normal) + len(shifted))
        novel = [answer for answer in shifted if answer.row.label in unseen_set]
        known = [answer for answer in shifted if answer.row.label not in unseen_set]
        low = baseline["threshold"]
        say(
            f"      v1 right on {accuracy(known):.3f} of the known intents, {accuracy(novel):.3f} of the new ones; "
            f"answers under {low:.3f}: {np.mean([a.score < low for a in known]):.2f} (known) and "
            f"{np.mean([a.score < low for a in novel]):.2f} (new); {captured} invocations captured"
        )
        second = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        [verdict] = run_drift_monitor(platform.outputs, second)
        say(
            f"      drift monitor, window {second - timedelta(hours=1):%H:%M:%S}-{second:%H:%M:%S}: {verdict_line(verdict)}"
        )
        [drift] = platform.events("DriftDetected") or [{}]
        if drift:
            say(
                f"      DriftDetected on the bus: statistic {drift['statistic']:.3f} > threshold {drift['threshold']:.3f}, "
                f"p = {drift['p_value']:.2g}, window {drift['window_start']} .. {drift['window_end']} "
                f"({drift['window_size']} answers), {drift['variant']}@{drift['model_version']}"
            )
        figures["drift"] = (verdict, drift)

        say("[5/10] feedback through the API: users rate the answers, and label the new intents")
        statuses = Counter()
        for answer in shifted:
            if answer.row.label in unseen_set:
                body = {"rating": 1, "label": answer.row.label}
            else:
                body = {"rating": 5 if answer.right else 1}
            statuses[platform.feedback(answer, body)] += 1
        report = run_feedback_export(platform.outputs, datetime.now(UTC) + timedelta(seconds=1))
        arrived = platform.events("LabelledFeedbackArrived", wait_seconds=2 if not report.triggered else 10)
        feedback_dir = WORK / "data" / "feedback"
        _download(platform, report.export_uri, feedback_dir / "labelled.jsonl")
        say(
            f"      {sum(statuses.values())} feedback answered {dict(statuses)}; feedback_export wrote "
            f"{report.exported} labelled rows to {report.export_uri}"
            + (
                f"; LabelledFeedbackArrived ({arrived[0]['new_labelled']} new >= {arrived[0]['threshold']})"
                if arrived
                else f"; {report.new_labelled} new labelled rows, under the threshold that starts a "
                "retraining on its own (DriftDetected is this run's trigger)"
            )
        )

        say(
            "[6/10] retraining: the pipeline definition `make retrain` runs (prepare, train, golden gate, register)"
        )
        say(
            f"      parameter LatencyBudgetMs={args.latency_budget_ms} (p95 of one query at a time on this shared "
            "CPU; the candidate's p95 must also stay within 1.25x the incumbent's, timed in turn)"
        )
        run = run_pipeline(base, feedback_dir, v1, cache=cache, parameters=parameters)
        say(
            f"      steps: {', '.join(f'{name} {outcome}' for name, outcome in run.steps)} ({run.seconds:.0f} s)"
        )
        if not run.approved:
            say("      the gate rejected v2: " + "; ".join(run.report["reasons"]))
            return 1
        registry = json.loads((WORK / "lifecycle" / "registry" / f"sluice-local-{ROUTE}.json").read_text())
        v2_entry = registry[-1]
        v2, v2_version = Path(v2_entry["model_data"]), str(v2_entry["model_version"])
        figures["gate_v2"] = run

        say(f"[7/10] the canary: v2 ({v2_version}) on the local endpoint, guarded by the rollback alarms")
        traffic = mixed_traffic(
            seen_pool[args.normal + args.shifted :],
            unseen_pool,
            size=400,
            unseen_share=args.shift,
            seed=args.seed + 1,
        )
        outcome, during = roll_out(
            platform, package_of(v2_entry, "v2"), traffic, bake_seconds=args.bake_seconds
        )
        deployed = platform.events("ModelDeployed")
        from sluice_local.local_deploy import local_incumbent

        incumbent = local_incumbent(ROUTE, WORK / "incumbents")
        say(
            f"      the rollout published v2's baseline at s3://{platform.outputs['LifecycleBucket']}/"
            f"{published_baseline(platform, v2)}; the next retraining's incumbent: "
            + ("v2" if incumbent == v2 else f"{incumbent} (not v2)")
        )
        by_version: dict[str, list[Answer]] = defaultdict(list)
        for answer in during:
            by_version[answer.model_version].append(answer)
        say(
            f"      outcome: {outcome}"
            + (
                f"; ModelDeployed: {deployed[0]['route']} {deployed[0]['previous_version']} -> "
                f"{deployed[0]['model_version']} ({deployed[0]['endpoint_config']})"
                if deployed
                else ""
            )
        )
        for version, answers in sorted(by_version.items()):
            say(f"      during the rollout {version}: {len(answers)} answers, {accuracy(answers):.3f} right")
        figures["canary"] = (outcome, by_version)

        say("[8/10] golden-set accuracy, v1 and v2 side by side (the gate's report)")
        for line in gate_table(run.report, "v1", "v2"):
            say("      " + line)

        say(
            "[9/10] a worse candidate: a labelling bug sends every correction with the next new intent's label"
        )
        bug = shifted_labels(unseen)
        statuses = Counter(
            platform.feedback(answer, {"rating": 1, "label": bug[answer.row.label]})
            for answer in shifted
            if answer.row.label in unseen_set
        )
        report = run_feedback_export(platform.outputs, datetime.now(UTC) + timedelta(seconds=2))
        _download(platform, report.export_uri, feedback_dir / "labelled.jsonl")
        say(
            f"      {sum(statuses.values())} corrections replaced {dict(statuses)}; {report.exported} labelled rows exported"
        )
        # Against the incumbent the rollout recorded (v2), as the deployed pipeline's default is.
        worse = run_pipeline(
            base,
            feedback_dir,
            local_incumbent(ROUTE, WORK / "incumbents") or v2,
            cache=cache,
            parameters=parameters,
        )
        say(
            f"      steps: {', '.join(f'{name} {outcome}' for name, outcome in worse.steps)} ({worse.seconds:.0f} s)"
        )
        for line in gate_table(worse.report, "v2", "v3"):
            say("      " + line)
        rejected = publish_rejection(platform, worse)
        if rejected:
            say(
                f"      ModelRejected: failed slices {rejected['failed_slices']}; {'; '.join(rejected['reasons'])}"
            )
        figures["gate_v3"] = worse

        say("[10/10] a canary rolled back: a package whose artifact fails at serving (made for the demo)")
        broken = WORK / "models" / "v4-broken"
        broken_version = broken_artifact(v2, broken)
        from sluice.lifecycle.rollout import PackageVersion

        package = PackageVersion(
            arn="local:sluice-local-intent/broken", route=ROUTE, model_version="v4", image="local",
            model_data_url=str(broken),
        )  # fmt: skip
        outcome, during = roll_out(platform, package, traffic, bake_seconds=args.bake_seconds)
        rolled_back = platform.events("ModelRolledBack")
        failed = [answer for answer in during if answer.status != 200]
        served = Counter(answer.model_version for answer in during if answer.status == 200)
        say(
            f"      outcome: {outcome}; {len(failed)} of {len(during)} queries failed while the canary ran "
            f"({broken_version}); answers by version: {dict(served)}"
            + (
                f"; ModelRolledBack: {rolled_back[0]['model_version']} -> {rolled_back[0]['restored_version']}, "
                f"reason {rolled_back[0]['reason']}, alarms {rolled_back[0]['alarms']}"
                if rolled_back
                else ""
            )
        )
        figures["rollback"] = (outcome, len(failed), len(during), rolled_back)

    summary(figures, v1_version, v2_version)
    return 0


def _download(platform: Platform, uri: str, target: Path) -> None:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(platform.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def summary(figures: dict[str, Any], v1_version: str, v2_version: str) -> None:
    say("")
    say(f"drift-demo finished in {time.monotonic() - STARTED:.0f} s")
    normal, (drifted, _) = figures["normal"], figures["drift"]
    for name, verdict in (("normal hour", normal), ("shifted hour", drifted)):
        say(f"  monitor, {name}: {verdict_line(verdict)}")
    overall = {r["name"]: r for r in figures["gate_v2"].report["slices"]}["overall"]
    say(
        f"  golden set: v1 {overall['incumbent_accuracy']:.3f} -> v2 {overall['candidate_accuracy']:.3f} (approved, promoted: {figures['canary'][0]})"
    )
    worse = figures["gate_v3"]
    say(
        f"  worse candidate: {'approved' if worse.approved else 'rejected'}, failed slices {worse.evaluation['failed_slices']}"
    )
    outcome, failed, total, _ = figures["rollback"]
    say(f"  broken canary: {outcome} ({failed} of {total} queries failed during it)")
    say(f"  v1 {v1_version}, v2 {v2_version}")


if __name__ == "__main__":
    raise SystemExit(main())
