"""Drift bench: which statistic tells shifted traffic from normal traffic, on real Banking77 data?

For each of `--holdouts` draws, `--unseen` of the 77 intents are kept out of training: a head is
fitted (the same logistic regression as model/train.py) on 85% of the train rows of the other
intents, and the baseline is built (model/baseline.py, the function train.py calls) from the 15%
left out. Windows of `--window` served answers are then drawn from test.csv:

- in-distribution: test rows of the seen intents only (never used to fit or to calibrate);
- shifted: 5, 10, 20 and 50% of the window replaced by rows of the unseen intents.

Every method gets the same windows and the same per-window significance (`--alpha`). Reported: false
alarms over the in-distribution windows, detection rate per shift strength, and the cost of one window
(the statistic, plus encoding the window's texts for the methods that need embeddings). Writes
bench/results/drift.md and bench/results/drift.png.

    .venv/bin/python bench/drift_bench.py [--windows 50] [--window 200] [--holdouts 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "model"), str(ROOT / "bench"), str(ROOT / "layers")]

import banking77_embeddings  # noqa: E402
import baseline as model_baseline  # noqa: E402
import train  # noqa: E402
from results_md import write_section  # noqa: E402

from sluice.lifecycle.drift import DriftBaseline, label_psi, low_confidence_test  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SHIFTS = (0.0, 0.05, 0.10, 0.20, 0.50)


@dataclass
class Holdout:
    """One draw: the intents kept out, the fitted head, its baseline and the rows windows come from."""

    unseen: list[str]
    baseline: DriftBaseline
    predict: Callable[[np.ndarray], tuple[list[str], np.ndarray]]
    reference_embeddings: np.ndarray  # the rows the head was fitted on
    calibration_embeddings: np.ndarray  # the held-out train rows the baseline was built from
    seen_test: np.ndarray  # indices into test rows of seen intents
    unseen_pool: np.ndarray  # embeddings of every row (train + test) of the unseen intents


@dataclass
class Window:
    embeddings: np.ndarray
    labels: list[str] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))


# --- methods: each maps a window to (fired, p-value or statistic) ---------------------------------


class Method:
    name: str
    needs_embeddings: bool

    def fired(self, window: Window) -> bool:
        raise NotImplementedError


class LowConfidence(Method):
    """sluice.lifecycle.drift.low_confidence_test: exact binomial test on the low-confidence share."""

    name = "low-confidence rate (binomial)"
    needs_embeddings = False

    def __init__(self, holdout: Holdout, alpha: float) -> None:
        self.baseline, self.alpha = holdout.baseline, alpha

    def fired(self, window: Window) -> bool:
        return low_confidence_test(window.scores.tolist(), self.baseline, alpha=self.alpha).drifted


class LabelPsi(Method):
    """sluice.lifecycle.drift.label_psi at the customary 0.25, or at a threshold calibrated by
    bootstrapping windows from the calibration rows (its (1 - alpha) quantile)."""

    needs_embeddings = False

    def __init__(self, holdout: Holdout, alpha: float, *, window: int, calibrated: bool, seed: int) -> None:
        self.baseline = holdout.baseline
        self.threshold = 0.25
        self.name = "label PSI > 0.25"
        if calibrated:
            labels, _ = holdout.predict(holdout.calibration_embeddings)
            rng = np.random.default_rng(seed)
            draws = [
                label_psi(
                    [labels[i] for i in rng.choice(len(labels), window, replace=False)], self.baseline
                ).statistic
                for _ in range(500)
            ]
            self.threshold = float(np.quantile(draws, 1 - alpha))
            self.name = "label PSI (bootstrap threshold)"

    def fired(self, window: Window) -> bool:
        return label_psi(window.labels, self.baseline, threshold=self.threshold).drifted


class NearestNeighbourNovelty(Method):
    """Share of window rows whose cosine distance to the nearest training row exceeds the distance
    that 10% of calibration rows exceed; exact binomial test, as for the low-confidence rate."""

    name = "embedding kNN novelty rate (binomial)"
    needs_embeddings = True

    def __init__(self, holdout: Holdout, alpha: float) -> None:
        self.reference, self.alpha = holdout.reference_embeddings, alpha
        distances = self._distances(holdout.calibration_embeddings)
        self.threshold = float(np.quantile(distances, 0.9))
        self.rate = float(np.mean(distances > self.threshold))

    def _distances(self, embeddings: np.ndarray) -> np.ndarray:
        return 1.0 - (embeddings @ self.reference.T).max(axis=1)

    def fired(self, window: Window) -> bool:
        from sluice.lifecycle.drift import binomial_tail

        novel = int(np.sum(self._distances(window.embeddings) > self.threshold))
        return binomial_tail(len(window.embeddings), self.rate)[novel] < self.alpha


class EmbeddingMmd(Method):
    """Two-sample test on embeddings: squared MMD with an RBF kernel (median-heuristic width) against
    a reference sample of training rows, p-value from `permutations` label permutations."""

    name = "embedding MMD (permutation test)"
    needs_embeddings = True

    def __init__(
        self, holdout: Holdout, alpha: float, *, reference_size: int, permutations: int, seed: int
    ) -> None:
        self.rng = np.random.default_rng(seed)
        picks = self.rng.choice(len(holdout.reference_embeddings), reference_size, replace=False)
        self.reference = holdout.reference_embeddings[picks]
        self.alpha, self.permutations = alpha, permutations
        squared = 2.0 - 2.0 * (self.reference @ self.reference.T)  # unit vectors
        self.gamma = 1.0 / float(np.median(squared[np.triu_indices(reference_size, 1)]))

    def fired(self, window: Window) -> bool:
        pooled = np.vstack([self.reference, window.embeddings])
        kernel = np.exp(-self.gamma * np.maximum(2.0 - 2.0 * (pooled @ pooled.T), 0.0))
        m, n = len(self.reference), len(window.embeddings)
        # MMD^2 (biased) of a split is w^T K w with w = 1/m on one side and -1/n on the other, so all
        # permutations are one matrix product instead of a loop over index sets.
        signs = np.concatenate([np.full(m, 1.0 / m), np.full(n, -1.0 / n)])
        splits = np.vstack([signs] + [self.rng.permutation(signs) for _ in range(self.permutations)])
        statistics_ = np.sum((splits @ kernel) * splits, axis=1)
        exceed = int(np.sum(statistics_[1:] >= statistics_[0]))
        return (exceed + 1) / (self.permutations + 1) < self.alpha


# --- the experiment -------------------------------------------------------------------------------


def make_holdout(
    seed: int,
    unseen_count: int,
    train_split: banking77_embeddings.Split,
    test_split: banking77_embeddings.Split,
) -> Holdout:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    intents = sorted(set(train_split.labels))
    unseen = sorted(rng.choice(intents, unseen_count, replace=False).tolist())
    train_labels = np.array(train_split.labels)
    test_labels = np.array(test_split.labels)
    seen_rows = np.flatnonzero(~np.isin(train_labels, unseen))
    rng.shuffle(seen_rows)
    cut = int(0.85 * len(seen_rows))
    fit_rows, calibration_rows = seen_rows[:cut], seen_rows[cut:]

    defaults = train.parse_args([])  # the same head, regularisation and seed as the real model
    classifier = LogisticRegression(C=defaults.c, max_iter=defaults.max_iter, random_state=defaults.seed)
    classifier.fit(train_split.embeddings[fit_rows], train_labels[fit_rows])

    def predict(embeddings: np.ndarray) -> tuple[list[str], np.ndarray]:
        probabilities = classifier.predict_proba(embeddings)
        return [str(label) for label in classifier.classes_[probabilities.argmax(axis=1)]], probabilities.max(
            axis=1
        )

    calibration = train_split.embeddings[calibration_rows]
    labels, scores = predict(calibration)
    baseline = DriftBaseline.model_validate(
        model_baseline.build_baseline(
            model_version=f"bench-holdout-{seed}",
            top_labels=labels,
            top_scores=scores,
            reference="15% of the seen intents' train rows",
        )
    )
    unseen_pool = np.vstack(
        [
            train_split.embeddings[np.isin(train_labels, unseen)],
            test_split.embeddings[np.isin(test_labels, unseen)],
        ]
    )
    return Holdout(
        unseen=unseen,
        baseline=baseline,
        predict=predict,
        reference_embeddings=train_split.embeddings[fit_rows],
        calibration_embeddings=calibration,
        seen_test=np.flatnonzero(~np.isin(test_labels, unseen)),
        unseen_pool=unseen_pool,
    )


def draw_window(
    holdout: Holdout,
    test_split: banking77_embeddings.Split,
    size: int,
    shift: float,
    rng: np.random.Generator,
) -> Window:
    shifted = round(shift * size)
    normal = test_split.embeddings[rng.choice(holdout.seen_test, size - shifted, replace=False)]
    novel = holdout.unseen_pool[rng.choice(len(holdout.unseen_pool), shifted, replace=False)]
    embeddings = np.vstack([normal, novel]) if shifted else normal
    labels, scores = holdout.predict(embeddings)
    return Window(embeddings=embeddings, labels=labels, scores=scores)


def encode_cost(test_split: banking77_embeddings.Split, size: int) -> float:
    """Seconds to embed one window of real texts on this machine (what embedding methods add)."""
    import inference

    device = inference.default_device()
    encoder = inference.load_encoder(device=device)
    texts = test_split.texts[:size]
    inference.embed(encoder, texts[:16], device=device)  # warm-up
    started = time.perf_counter()
    inference.embed(encoder, texts, device=device)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=50, help="windows per shift strength and holdout")
    parser.add_argument("--window", type=int, default=200, help="answers per window")
    parser.add_argument("--holdouts", type=int, default=3, help="draws of unseen intents")
    parser.add_argument("--unseen", type=int, default=10, help="intents kept out of training per draw")
    parser.add_argument("--alpha", type=float, default=0.01, help="per-window significance of every method")
    parser.add_argument("--permutations", type=int, default=200)
    args = parser.parse_args(argv)

    train_split, test_split = banking77_embeddings.load("train"), banking77_embeddings.load("test")
    names: list[str] = []
    fired: dict[tuple[str, float], list[bool]] = {}
    seconds: dict[str, list[float]] = {}
    unseen_by_draw: list[list[str]] = []
    total = args.holdouts * len(SHIFTS) * args.windows
    with tqdm(total=total, desc="windows", unit="window") as progress:
        for draw in range(args.holdouts):
            progress.set_postfix_str(f"fitting head {draw + 1}/{args.holdouts}")
            holdout = make_holdout(draw, args.unseen, train_split, test_split)
            unseen_by_draw.append(holdout.unseen)
            methods: list[Method] = [
                LowConfidence(holdout, args.alpha),
                LabelPsi(holdout, args.alpha, window=args.window, calibrated=False, seed=draw),
                LabelPsi(holdout, args.alpha, window=args.window, calibrated=True, seed=draw),
                NearestNeighbourNovelty(holdout, args.alpha),
                EmbeddingMmd(
                    holdout, args.alpha, reference_size=500, permutations=args.permutations, seed=draw
                ),
            ]
            names = [method.name for method in methods]
            rng = np.random.default_rng(1000 + draw)
            progress.set_postfix_str(f"holdout {draw + 1}/{args.holdouts}")
            for shift in SHIFTS:
                for _ in range(args.windows):
                    window = draw_window(holdout, test_split, args.window, shift, rng)
                    for method in methods:
                        started = time.perf_counter()
                        result = method.fired(window)
                        seconds.setdefault(method.name, []).append(time.perf_counter() - started)
                        fired.setdefault((method.name, shift), []).append(result)
                    progress.update()

    print("==> timing the encoder on one window of real texts", flush=True)
    encode_seconds = encode_cost(test_split, args.window)
    needs_embeddings = {method.name: method.needs_embeddings for method in methods}
    report = render(args, names, fired, seconds, encode_seconds, needs_embeddings, unseen_by_draw)
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_section(RESULTS / "drift.md", "drift-bench", report, title="Drift detection bench")
    plot(names, fired, args, RESULTS / "drift.png")
    print(f"wrote {RESULTS / 'drift.md'} and {RESULTS / 'drift.png'}")
    return 0


def render(
    args: argparse.Namespace,
    names: list[str],
    fired: dict[tuple[str, float], list[bool]],
    seconds: dict[str, list[float]],
    encode_seconds: float,
    needs_embeddings: dict[str, bool],
    unseen_by_draw: list[list[str]],
) -> str:
    in_distribution = args.windows * args.holdouts
    lines = [
        f"`make drift-bench`: {args.holdouts} draws of {args.unseen} unseen intents, windows of {args.window} "
        f"answers, {args.windows} windows per shift and draw, per-window alpha {args.alpha}.",
        "",
        f"| method | false alarms / {in_distribution} in-distribution windows | "
        + " | ".join(f"detected at {shift:.0%}" for shift in SHIFTS[1:])
        + " | cost per window |",
        "|---|---|" + "---|" * (len(SHIFTS) - 1) + "---|",
    ]
    for name in names:
        alarms = sum(fired[(name, 0.0)])
        rates = " | ".join(f"{np.mean(fired[(name, shift)]):.0%}" for shift in SHIFTS[1:])
        cost = statistics.median(seconds[name]) * 1000
        extra = f" + {encode_seconds:.1f} s encoding" if needs_embeddings[name] else " (scores from capture)"
        lines.append(
            f"| {name} | {alarms} ({alarms / in_distribution:.1%}) | {rates} | {cost:.1f} ms{extra} |"
        )
    lines += ["", "Unseen intents per draw: " + "; ".join(", ".join(unseen) for unseen in unseen_by_draw)]
    return "\n".join(lines)


def plot(
    names: list[str], fired: dict[tuple[str, float], list[bool]], args: argparse.Namespace, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.8))
    for name in names:
        axis.plot(
            [s * 100 for s in SHIFTS],
            [100 * np.mean(fired[(name, s)]) for s in SHIFTS],
            marker="o",
            label=name,
        )
    axis.axhline(100 * args.alpha, color="grey", linestyle=":", label=f"alpha = {args.alpha:.0%}")
    axis.set_xlabel("share of the window from intents unseen in training (%)")
    axis.set_ylabel("windows flagged (%)")
    axis.set_title(f"Drift detection on Banking77, windows of {args.window} (0% = false alarms)")
    axis.set_ylim(-3, 103)
    axis.legend(fontsize=8, loc="center right")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
