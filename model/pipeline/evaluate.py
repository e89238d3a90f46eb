"""Pipeline step "evaluate": the candidate and the model in service on the golden set, then the gate.

Writes `<output>/evaluation.json` (the property file the pipeline's condition step reads:
`approved`, accuracies, latency) and `<output>/gate_report.json` (every slice, failed slices, reasons).
Runs as a SageMaker processing job (inputs under /opt/ml/processing) and locally (`make retrain`):

    python model/pipeline/evaluate.py --candidate .sluice/candidate --incumbent .sluice/model \
        --golden model/golden/intent.jsonl --output .sluice/evaluation
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # model/: inference.py
try:
    from sluice.lifecycle import gate
except ImportError:  # in the processing container the pipeline stages gate.py beside this file
    sys.path.insert(0, str(HERE))
    import gate  # type: ignore[no-redef]

import inference  # noqa: E402 - found through the sys.path entry above

# With a cache, every this-many-th query (in golden-set order) is still served and timed, so the
# timed queries are a uniform sample of the golden set and its p95 compares with a full run's.
CACHED_TIMING_STRIDE = 7


def score_interleaved(
    golden: list[gate.GoldenQuery], models: dict[str, Any], cache: dict[str, Any] | None = None
) -> dict[str, gate.ScoredRun]:
    """Each query goes to every model in turn, one at a time (serving's batch of one), so both are
    timed under the same load of the machine and their latencies compare.

    `cache` (text -> embedding, `make drift-demo` only): every CACHED_TIMING_STRIDE-th query is
    served and timed (the faster of two servings); any other is scored by each model's head on its cached embedding
    (served untimed if it has none), so the latency sample keeps the golden set's mix of queries.
    """
    predictions: dict[str, dict[str, str]] = {name: {} for name in models}
    latencies: dict[str, list[float]] = {name: [] for name in models}
    # With a cache (a demo on a shared laptop) a sampled query is served twice and the faster
    # serving counts: fewer samples, so one scheduler stall must not decide the p95 ratio.
    repeats = 1 if cache is None else 2
    turns = 0  # which model goes first alternates over the timed queries (all of them without a cache)
    for position, query in enumerate(golden):
        timed = cache is None or position % CACHED_TIMING_STRIDE == 0
        order = list(models.items()) if turns % 2 == 0 else list(reversed(models.items()))
        turns += timed
        vector = None if timed else (cache or {}).get(query.text)
        for name, model in order:
            if vector is not None:
                logits = model.weights.cpu().numpy() @ vector + model.bias.cpu().numpy()
                predictions[name][query.id] = model.labels[int(logits.argmax())]
                continue
            servings = []
            for _ in range(repeats if timed else 1):
                started = time.perf_counter()
                [answer] = inference.predict_fn([inference.Instance(query.text, top_k=1)], model)
                servings.append((time.perf_counter() - started) * 1000)
            if timed:
                latencies[name].append(min(servings))
            predictions[name][query.id] = answer.intents[0]["label"]
    if not all(latencies.values()):
        raise ValueError("no golden query was timed: the latency rule needs served queries")
    return {
        name: gate.ScoredRun(models[name].model_version, predictions[name], latencies[name])
        for name in models
    }


def evaluate(
    golden: list[gate.GoldenQuery],
    candidate: Any,
    incumbent: Any | None,
    rules: gate.GateRules,
    cache: dict[str, Any] | None = None,
) -> gate.GateReport:
    models = {"candidate": candidate} | ({"incumbent": incumbent} if incumbent is not None else {})
    runs = score_interleaved(golden, models, cache)
    return gate.judge(golden, runs["candidate"], runs.get("incumbent"), rules)


def write_outputs(report: gate.GateReport, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    overall = next(result for result in report.slices if result.name == gate.OVERALL)
    evaluation = {
        "approved": 1 if report.approved else 0,  # a number: ConditionEquals compares JsonGet values
        "candidate_version": report.candidate_version,
        "incumbent_version": report.incumbent_version,
        "metrics": {
            "golden_accuracy": {"value": overall.candidate_accuracy},
            "incumbent_golden_accuracy": {"value": overall.incumbent_accuracy},
            "latency_p95_ms": {"value": report.latency_p95_ms["candidate"]},
        },
        "failed_slices": report.failed_slices,
    }
    (output / "evaluation.json").write_text(json.dumps(evaluation, indent=1) + "\n")
    (output / "gate_report.json").write_text(report.to_json() + "\n")


def build_parser() -> argparse.ArgumentParser:
    # The defaults are where the pipeline's EvaluateOnGolden step puts its inputs and takes its
    # output from (infra/lifecycle_pipeline.py; tests/unit/lifecycle/test_local_pipeline_run.py).
    processing = Path("/opt/ml/processing")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--candidate", type=Path, default=processing / "input" / "candidate")
    parser.add_argument("--incumbent", type=Path, default=processing / "input" / "incumbent")
    parser.add_argument("--golden", type=Path, default=HERE.parent / "golden" / "intent.jsonl")
    parser.add_argument("--output", type=Path, default=processing / "output" / "evaluation")
    parser.add_argument("--latency-budget-ms", type=float, default=gate.GateRules.latency_p95_budget_ms)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    _unpack_if_archive(args.candidate)
    _unpack_if_archive(args.incumbent)
    golden = gate.load_golden(args.golden)
    candidate = inference.load_model(args.candidate)
    # The first version of a route has nothing in service: it is judged against the floor alone.
    incumbent = inference.load_model(args.incumbent) if (args.incumbent / "model.json").exists() else None
    print(
        f"==> golden set: {len(golden)} queries; candidate {candidate.model_version}, "
        f"incumbent {incumbent.model_version if incumbent else 'none'}",
        flush=True,
    )
    cache = None
    if os.environ.get("SLUICE_EMBEDDING_CACHE"):  # `make drift-demo` only; never set in SageMaker
        from train import load_embedding_cache

        cache = load_embedding_cache(os.environ["SLUICE_EMBEDDING_CACHE"])
        timed = len(range(0, len(golden), CACHED_TIMING_STRIDE))
        print(
            f"    {timed} golden queries served and timed, the others scored from cached embeddings",
            flush=True,
        )
    report = evaluate(
        golden, candidate, incumbent, gate.GateRules(latency_p95_budget_ms=args.latency_budget_ms), cache
    )
    write_outputs(report, args.output)
    copy_baseline(args.candidate, args.output)
    print(gate.summary(report))
    return 0  # a rejection is a result, not a failure: the condition step acts on it


def copy_baseline(candidate: Path, output: Path) -> Path | None:
    """The candidate's drift baseline beside the gate's report. The registered package points at
    the report (its ModelQuality statistics), and the deploy function publishes this file under
    `baselines/` when the version rolls out: the copy inside model.tar.gz is out of a Lambda's
    reach without reading the whole archive."""
    source = candidate / "baseline.json"
    if not source.is_file():
        return None
    output.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(source, output / "baseline.json"))


def _unpack_if_archive(model_dir: Path) -> None:
    """SageMaker hands a training step's output over as model.tar.gz; unpack it in place."""
    archive = model_dir / "model.tar.gz"
    if archive.exists() and not (model_dir / "model.json").exists():
        import tarfile

        with tarfile.open(archive) as tar:
            tar.extractall(model_dir, filter="data")


if __name__ == "__main__":
    sys.exit(main())
