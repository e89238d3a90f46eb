"""Tiny example models of each kind Sluice packs, built deterministically (a few KB each).

They are test fixtures, not useful models: a BERT of one layer and 16 dimensions with random
(seeded) weights, a TF-IDF + logistic regression pipeline trained on twelve texts, and a custom
PyTorch handler over a bag of hashed words. What they prove is the path: each becomes a route,
passes the pre-deploy check and answers through the API.

    python tests/byo_models/build.py KIND DEST     # KIND: text-classification, token-classification,
                                                   # feature-extraction, sklearn, pytorch, pytorch-unbatched
The sklearn model is built by the interpreter of the scikit-learn image's environment
(.venv-sklearn-image): a joblib pickle only loads in the scikit-learn that wrote it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORDS = [
    "i",
    "still",
    "have",
    "not",
    "received",
    "my",
    "new",
    "card",
    "please",
    "close",
    "account",
    "moving",
    "abroad",
    "great",
    "service",
    "thank",
    "you",
    "the",
    "a",
    "is",
    "my",
    "to",
    "and",
    "of",
    "money",
    "transfer",
    "pay",
    "bill",
    "bank",
    "london",
    "paris",
    "john",
    "mary",
    "alice",
    "bob",
]
SENTIMENT = [
    ("great service thank you", "positive"),
    ("thank you so much, very helpful", "positive"),
    ("the app is great", "positive"),
    ("lovely quick transfer", "positive"),
    ("excellent support today", "positive"),
    ("happy with the new card", "positive"),
    ("terrible service, nobody answers", "negative"),
    ("my card still has not arrived, awful", "negative"),
    ("the transfer failed again", "negative"),
    ("worst bank ever", "negative"),
    ("i am angry about the fees", "negative"),
    ("slow and useless support", "negative"),
]


def tiny_bert(task: str, dest: Path) -> Path:
    import torch
    import transformers

    torch.manual_seed(0)
    dest.mkdir(parents=True, exist_ok=True)
    vocab = dest / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    labels = {
        "text-classification": ["negative", "positive"],
        "token-classification": ["O", "B-PERSON", "I-PERSON", "B-LOCATION", "I-LOCATION"],
        "feature-extraction": [],
    }[task]
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
        **(
            {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}
            if labels
            else {}
        ),
    )
    model_class = {
        "text-classification": transformers.BertForSequenceClassification,
        "token-classification": transformers.BertForTokenClassification,
        "feature-extraction": transformers.BertModel,
    }[task]
    model = model_class(config).eval()
    model.save_pretrained(str(dest))
    tokenizer.save_pretrained(str(dest))
    return dest


def sklearn_pipeline(dest: Path) -> Path:
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    dest.mkdir(parents=True, exist_ok=True)
    texts, labels = zip(*SENTIMENT, strict=True)
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression(C=10, random_state=0))
    pipeline.fit(list(texts), list(labels))
    joblib.dump(pipeline, dest / "model.joblib")
    return dest


def custom_pytorch(dest: Path, *, handler: str = "bag_of_words_inference.py") -> Path:
    import torch

    torch.manual_seed(0)
    dest.mkdir(parents=True, exist_ok=True)
    layer = torch.nn.Linear(64, 2)
    torch.save(layer.state_dict(), dest / "weights.pt")
    shutil.copy2(HERE / handler, dest / "inference.py")
    return dest


def main(argv: list[str]) -> int:
    kind, dest = argv[0], Path(argv[1])
    if kind == "sklearn":
        sklearn_pipeline(dest)
    elif kind == "pytorch":
        custom_pytorch(dest)
    elif kind == "pytorch-unbatched":
        custom_pytorch(dest, handler="unbatched_inference.py")
    else:
        tiny_bert(kind, dest)
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
