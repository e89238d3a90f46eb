"""Builds the golden query set of the `intent` route: model/golden/intent.jsonl (committed).

Two parts, each row `{"id", "text", "label", "slices"}`:
- `banking77`: 4 rows per intent of Banking77's test split (308 rows, picked by a hash of the text,
  so the pick is stable and not the file's order). No training run ever reads them: train.py fits on
  train.csv, and the retraining pipeline's prepare step drops any feedback row whose text is here.
- curated edge cases, 20 to 30 per slice: `typos` (keyboard slips in real queries, made once with a
  fixed seed), `slang`, `short` (one to three words), `long` (a real query inside a rambling
  message) and `placeholders` (queries as they reach the model after redaction: `<PERSON>`,
  `<IBAN_CODE#...>`, ...). Expected labels are Banking77's intent names.

    python3 model/golden/build.py     # rewrites intent.jsonl; review the diff before committing
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PER_INTENT = 4

SLANG = [
    ("yo where tf is my card, ordered it ages ago", "card_arrival"),
    ("card still hasnt shown up smh", "card_arrival"),
    ("bruh the atm ate my card", "card_swallowed"),
    ("machine swallowed my card lol what now", "card_swallowed"),
    ("some rando took my card, freeze it asap", "lost_or_stolen_card"),
    ("lost my phone n the app was on it, help", "lost_or_stolen_phone"),
    ("top up just failed again ugh", "top_up_failed"),
    ("why'd u guys charge me twice for the same thing", "transaction_charged_twice"),
    ("gimme a refund pls", "request_refund"),
    ("wanna close my acc for good", "terminate_account"),
    ("forgot my pin like an idiot, blocked now", "pin_blocked"),
    ("how do i swap my pin", "change_pin"),
    ("tap to pay aint working", "contactless_not_working"),
    ("can i use apple pay w this", "apple_pay_or_google_pay"),
    ("rate u gave me is a total ripoff", "card_payment_wrong_exchange_rate"),
    ("whats the fx rate rn", "exchange_rate"),
    ("sent cash to my mate, he aint got it", "transfer_not_received_by_recipient"),
    ("how long til my transfer lands", "transfer_timing"),
    ("y is there a fee on my transfer", "transfer_fee_charged"),
    ("atm gave me less cash than i asked 4", "wrong_amount_of_cash_received"),
    ("theres a payment i def didnt make", "card_payment_not_recognised"),
    ("need a virtual card for online stuff", "getting_virtual_card"),
    ("kid is 15 can they get 1", "age_limit"),
    ("my card's about to run out, new one?", "card_about_to_expire"),
    ("cant verify my id, app keeps failing", "unable_to_verify_identity"),
]

SHORT = [
    ("card arrival", "card_arrival"),
    ("card not arrived", "card_arrival"),
    ("pin blocked", "pin_blocked"),
    ("change pin", "change_pin"),
    ("refund", "request_refund"),
    ("close account", "terminate_account"),
    ("exchange rate?", "exchange_rate"),
    ("card swallowed", "card_swallowed"),
    ("stolen card", "lost_or_stolen_card"),
    ("lost phone", "lost_or_stolen_phone"),
    ("top up failed", "top_up_failed"),
    ("top up limits", "top_up_limits"),
    ("charged twice", "transaction_charged_twice"),
    ("transfer fee", "transfer_fee_charged"),
    ("apple pay", "apple_pay_or_google_pay"),
    ("virtual card", "getting_virtual_card"),
    ("contactless broken", "contactless_not_working"),
    ("activate card", "activate_my_card"),
    ("age limit", "age_limit"),
    ("forgot passcode", "passcode_forgotten"),
    ("spare card", "getting_spare_card"),
    ("verify identity", "verify_my_identity"),
    ("ATM cash wrong", "wrong_amount_of_cash_received"),
    ("which countries supported", "country_support"),
    ("visa or master?", "visa_or_mastercard"),
]

PLACEHOLDERS = [
    ("Hi, this is <PERSON>, my card still has not arrived at <LOCATION>", "card_arrival"),
    (
        "I sent money to <PERSON#3f9a2c1d0b7e4a55> but they never received it",
        "transfer_not_received_by_recipient",
    ),
    ("Please refund the payment to <IBAN_CODE>", "request_refund"),
    ("My card <CREDIT_CARD> was stolen yesterday in <LOCATION>", "lost_or_stolen_card"),
    ("I need to change the email on my account to <EMAIL_ADDRESS>", "edit_personal_details"),
    ("Update my phone number to <PHONE_NUMBER> please", "edit_personal_details"),
    ("The ATM at <LOCATION> kept my card <CREDIT_CARD_4c1d9e0a7b3f2e11>", "card_swallowed"),
    ("I was charged twice on <DATE_TIME> for the same purchase", "transaction_charged_twice"),
    ("<PERSON> here, I forgot my passcode", "passcode_forgotten"),
    ("Transfer to <IBAN_CODE#0a1b2c3d4e5f6a7b> was declined, why?", "declined_transfer"),
    ("I don't recognise a payment to <PERSON> on <DATE_TIME>", "card_payment_not_recognised"),
    ("Can my son <PERSON> who is 14 open an account?", "age_limit"),
    ("I topped up from card <CREDIT_CARD> and it failed", "top_up_failed"),
    ("Money from <PERSON> is not showing in my balance", "balance_not_updated_after_bank_transfer"),
    ("I lost my phone, contact me at <EMAIL_ADDRESS>", "lost_or_stolen_phone"),
    ("Is the card accepted in <LOCATION>?", "card_acceptance"),
    ("I want to close my account, I am moving to <LOCATION>", "terminate_account"),
    ("My new card for <PERSON_7d2e9b1c> has to be activated", "activate_my_card"),
    ("Why is my transfer to <PERSON> still pending since <DATE_TIME>?", "pending_transfer"),
    ("The exchange rate I got in <LOCATION> was wrong", "card_payment_wrong_exchange_rate"),
    ("Call me on <PHONE_NUMBER>, my PIN is blocked", "pin_blocked"),
    ("I need a refund for the order from <URL>", "request_refund"),
    ("Please send the replacement card to <LOCATION>, mine expires on <DATE_TIME>", "card_about_to_expire"),
    ("How long does a transfer to <IBAN_CODE> take?", "transfer_timing"),
    ("I was charged a fee when <PERSON> sent me money", "transfer_fee_charged"),
]

LONG_WRAPPERS = [
    (
        "Hello there, I hope you are having a good day. I have been a customer for a few years now and "
        "generally I am very happy with the service, the app is easy to use and I recommend you to my "
        "friends. However, something came up this week that I could not sort out on my own, and I could "
        "not find the answer in the help pages either. {query} I would really appreciate a quick answer, "
        "as this is starting to cause me problems. Thanks a lot in advance and have a nice weekend."
    ),
    (
        "Sorry for the long message, I tried the chat earlier but it disconnected twice and I had to "
        "start over each time, which was frustrating. I am writing from my laptop now because my phone "
        "battery is almost dead. Anyway, here is my problem: {query} I have already restarted the app, "
        "logged out and in again, and checked that I have the latest version installed. Please let me "
        "know what else I can do or whether you need anything from me."
    ),
    (
        "Good morning. I am travelling for work at the moment and will be abroad for the next three "
        "weeks, so it is quite important for me that everything works with my account while I am away. "
        "My colleague uses the same bank and she told me to contact support directly. {query} If it "
        "helps, I usually use the card for hotels, taxis and restaurants, and sometimes I take cash out. "
        "Thank you for your help, I look forward to hearing from you soon."
    ),
    (
        "Hi, I am not very good with technology, my grandson set up the app for me last month and "
        "showed me how to use it, but he is away at university now and I do not want to bother him with "
        "this. I have read the letter you sent but I did not understand all of it. {query} I would be "
        "grateful if you could explain it in simple words. Many thanks and kind regards."
    ),
    (
        "Hey team, quick context first: I switched to you from my old bank two months ago, moved my "
        "salary over and set up all my regular payments, and so far it has been smooth. Today though I "
        "ran into something odd and I want to make sure I understand what is going on before I do "
        "anything else. {query} Let me know if you need screenshots or dates, I can send them over."
    ),
]
LONG_PER_WRAPPER = 5
TYPO_ROWS = 30


def read_test() -> list[tuple[str, str]]:
    with (ROOT / "data" / "banking77" / "test.csv").open(newline="", encoding="utf-8") as file:
        return [(row["text"], row["category"]) for row in csv.DictReader(file)]


def training_texts() -> set[str]:
    with (ROOT / "data" / "banking77" / "train.csv").open(newline="", encoding="utf-8") as file:
        return {normalise(row["text"]) for row in csv.DictReader(file)}


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def stable_order(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def with_typos(text: str, rng: random.Random) -> str:
    """Two slips of a hurried typist: a swapped, dropped or doubled letter in two longer words."""
    words = text.split()
    candidates = [i for i, word in enumerate(words) if len(word) >= 5 and word.isalpha()]
    for index in rng.sample(candidates, min(2, len(candidates))):
        word = words[index]
        at = rng.randrange(1, len(word) - 2)
        kind = rng.choice(["swap", "drop", "double"])
        if kind == "swap":
            word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        elif kind == "drop":
            word = word[:at] + word[at + 1 :]
        else:
            word = word[:at] + word[at] + word[at:]
        words[index] = word
    return " ".join(words)


def build() -> list[dict[str, object]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    training = training_texts()
    for text, label in read_test():
        if normalise(text) not in training:  # Banking77's test split repeats a few training rows
            by_intent[label].append(text)
    rows: list[dict[str, object]] = []
    picked: list[tuple[str, str]] = []
    for label in sorted(by_intent):
        for text in sorted(by_intent[label], key=stable_order)[:PER_INTENT]:
            picked.append((text, label))
            rows.append({"text": text, "label": label, "slices": ["banking77"]})
    rng = random.Random(77)  # noqa: S311 - a fixed, reproducible pick, not a secret
    for text, label in rng.sample(picked, TYPO_ROWS):
        rows.append({"text": with_typos(text, rng), "label": label, "slices": ["typos"]})
    for slice_name, cases in (("slang", SLANG), ("short", SHORT), ("placeholders", PLACEHOLDERS)):
        rows.extend({"text": text, "label": label, "slices": [slice_name]} for text, label in cases)
    long_sources = rng.sample(picked, len(LONG_WRAPPERS) * LONG_PER_WRAPPER)
    for position, (text, label) in enumerate(long_sources):
        wrapper = LONG_WRAPPERS[position % len(LONG_WRAPPERS)]
        rows.append({"text": wrapper.format(query=text.strip()), "label": label, "slices": ["long"]})
    for number, row in enumerate(rows):
        row["id"] = f"g{number:04d}"
    return [
        {"id": row["id"], "text": row["text"], "label": row["label"], "slices": row["slices"]} for row in rows
    ]


if __name__ == "__main__":
    rows = build()
    labels = set(json.loads((ROOT / "data" / "banking77" / "categories.json").read_text()))
    unknown = {str(row["label"]) for row in rows} - labels
    if unknown:
        raise SystemExit(f"labels not in Banking77: {sorted(unknown)}")
    seen = [row["id"] for row in rows if normalise(str(row["text"])) in training_texts()]
    if seen:
        raise SystemExit(f"golden queries that are training rows: {seen}")
    path = HERE / "intent.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    print(f"wrote {len(rows)} golden queries to {path}")
