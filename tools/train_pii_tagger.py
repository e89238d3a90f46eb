"""Trains the PERSON/LOCATION tagger that `sluice.pii` ships (layers/sluice/pii/data/*crf*).

Run with `make pii-tagger` (a throwaway venv with python-crfsuite, pinned in
tools/requirements-pii-tagger.txt). Deterministic: the same data and pins give the same file.

* Training data: Broad Twitter Corpus train (data/pii/btc/btc.train.conll, CC BY 4.0), labels
  PER, LOC and ORG, plus a lower-cased copy of every third tweet (seeded), because chat text
  writes "jane doe" and the model must not learn that a name is a capitalised word.
* Tuning data: BTC dev only: the L1/L2 strengths and the entity bias (a constant added to every
  non-O label, trading precision for recall) are chosen by PERSON+LOCATION F2 on BTC dev.
  WNUT-17 dev and the synthetic records are not looked at here, so `make pii-eval` reports them
  as data the tagger was not tuned on.

Features come from `sluice.pii.tagger.token_features`, the function inference uses.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT / "bench")]

import pycrfsuite  # noqa: E402
from pii_eval import Record, load_btc_dev, read_conll, score  # noqa: E402

from sluice.pii import DEFAULT_MIN_SCORE, tagger  # noqa: E402
from sluice.pii.lexicon import lexicon  # noqa: E402
from sluice.pii.recognizers.base import Doc  # noqa: E402

OUT = ROOT / "layers" / "sluice" / "pii" / "data" / tagger.MODEL_FILE
TRAIN = ROOT / "data" / "pii" / "btc" / "btc.train.conll"
LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
SEED = 14
LOWER_EVERY = 3
# Weights below this are dropped: they change no decision and would only grow the file.
MIN_WEIGHT = 0.01


def sequence(text: str, spans: list[tuple[int, int, str]]) -> tuple[list[list[str]], list[str]]:
    """Features and BIO labels of `text` as the shipped tokenizer splits it."""
    lex = lexicon()
    bounds = tagger.tokenize(text)
    words = [text[s:e] for s, e in bounds]
    doc_case = tagger.document_case(text)
    labels = []
    for start, end in bounds:
        label = "O"
        for s, e, kind in spans:
            if s <= start and end <= e:
                label = ("B-" if start == s or not labels or labels[-1] == "O" else "I-") + kind
                break
        labels.append(label)
    features = []
    for i in range(len(words)):
        feats: list[str] = []
        for offset in tagger.OFFSETS:
            j = i + offset
            if 0 <= j < len(words):
                feats += tagger.token_features(lex, words[j], offset, doc_case)
            else:
                feats += tagger.EDGE[offset]
        features.append(feats)
    return features, labels


def training_data() -> list[tuple[str, list[tuple[int, int, str]]]]:
    rng = random.Random(SEED)  # noqa: S311 -- a reproducible sample, not a secret
    out = []
    for text, spans in read_conll(TRAIN, join_marks=True):
        out.append((text, spans))
        if rng.randrange(LOWER_EVERY) == 0:
            out.append((text.lower(), spans))  # same length: offsets stay valid
    return out


def train(c1: float, c2: float, iterations: int, path: Path) -> None:
    trainer = pycrfsuite.Trainer(verbose=False)
    for text, spans in training_data():
        features, labels = sequence(text, spans)
        if features:
            trainer.append(features, labels)
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": iterations})
    trainer.train(str(path))


def export(path: Path, entity_bias: float) -> bytes:
    crf = pycrfsuite.Tagger()
    crf.open(str(path))
    info = crf.info()
    index = {label: i for i, label in enumerate(LABELS)}
    # "-1:w=hi" -> table entry "w=hi", slot (index of offset -1) * labels + label: the layout
    # `sluice.pii.tagger.Model.weights` reads.
    weights: dict[str, list[list[float]]] = {}
    for (feature, label), weight in sorted(info.state_features.items()):
        if abs(weight) >= MIN_WEIGHT:
            offset, _, name = feature.partition(":")
            slot = tagger.OFFSETS.index(int(offset)) * len(LABELS) + index[label]
            weights.setdefault(name, []).append([slot, round(weight, 4)])
    transitions = [[0.0] * len(LABELS) for _ in LABELS]
    for (before, after), weight in info.transitions.items():
        transitions[index[before]][index[after]] = round(weight, 4)
    data = {
        "labels": list(LABELS),
        "transitions": transitions,
        "start": [0.0] * len(LABELS),
        "entity_bias": entity_bias,
        "weights": weights,
    }
    return gzip.compress(json.dumps(data, sort_keys=True, separators=(",", ":")).encode(), mtime=0)


def f2_on(records: list[Record], model: tagger.Model) -> float:
    detector = tagger.Tagger(model)
    predictions = [
        [(s.start, s.end, s.entity_type) for s in detector.find(Doc(r.text)) if s.score >= DEFAULT_MIN_SCORE]
        for r in records
    ]
    return score(records, predictions, frozenset({"PERSON", "LOCATION"})).overall.f2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--c1", type=float, nargs="+", default=[0.1])
    parser.add_argument("--c2", type=float, nargs="+", default=[0.01])
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--bias", type=float, nargs="+", default=[1.5, 2.0, 2.5, 3.0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    dev = load_btc_dev()
    best: tuple[float, bytes, str] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for c1 in args.c1:
            for c2 in args.c2:
                path = Path(tmp) / f"crf-{c1}-{c2}"
                train(c1, c2, args.iterations, path)
                for bias in args.bias:
                    raw = export(path, bias)
                    f2 = f2_on(dev, tagger.load(raw))
                    setting = f"c1={c1} c2={c2} bias={bias}"
                    print(f"{setting}: BTC dev PERSON+LOCATION F2 {f2:.3f} ({len(raw) / 1e6:.2f} MB)")
                    if best is None or f2 > best[0]:
                        best = (f2, raw, setting)
    assert best is not None
    args.out.write_bytes(best[1])
    print(f"chose {best[2]} (BTC dev F2 {best[0]:.3f}); wrote {args.out}")


if __name__ == "__main__":
    main()
