"""Input and output tokens of a generative route's inference, for the meter.

Taken from the model's answer when it reports them:
- `usage.prompt_tokens` / `usage.completion_tokens`: the OpenAI-compatible Messages API that the
  Hugging Face LLM container (TGI) serves for `{"messages": [...]}` requests;
- `details.generated_tokens` (and `details.prefill`, one entry per prompt token, when the caller
  asked for `decoder_input_details`): TGI's `/generate` answer when the caller set
  `parameters.details`.
Otherwise counted here, and marked as estimated: the UTF-8 bytes of the prompt and of the
generated text over 4, rounded up. Four bytes per token is the usual rule of thumb for BPE
tokenizers on English text (OpenAI's guidance is "about 4 characters"); Qwen2.5's tokenizer is
not available offline to count with. The estimate's error is text-dependent: code, numbers and
non-Latin scripts take more tokens per byte, so it under-counts them; it is never used to charge
money (charges follow model time), only to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import ceil
from typing import Any

GENERATIVE_WIRE_FORMATS = frozenset({"hf-tgi"})
BYTES_PER_TOKEN = 4


@dataclass(frozen=True)
class TokenCount:
    tokens_in: int
    tokens_out: int
    estimated: bool  # True: counted from text length here, not reported by the model


NONE = TokenCount(0, 0, estimated=False)


def _estimate(text: str) -> int:
    return ceil(len(text.encode()) / BYTES_PER_TOKEN) if text else 0


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _prompt_text(request: Mapping[str, Any]) -> str:
    if isinstance(request.get("inputs"), str):
        return str(request["inputs"])
    messages = request.get("messages")
    if isinstance(messages, list):
        return "".join(
            str(message.get("content", "")) for message in messages if isinstance(message, Mapping)
        )
    return ""


def _generated_text(response: Mapping[str, Any]) -> str:
    if isinstance(response.get("generated_text"), str):
        return str(response["generated_text"])
    choices = response.get("choices")
    if isinstance(choices, list):
        texts = []
        for choice in choices:
            message = choice.get("message") if isinstance(choice, Mapping) else None
            if isinstance(message, Mapping) and isinstance(message.get("content"), str):
                texts.append(message["content"])
        return "".join(texts)
    return ""


def count_tokens(wire_format: str, request: Mapping[str, Any], response: Mapping[str, Any]) -> TokenCount:
    """Tokens of one generation; zero for routes that do not generate text."""
    if wire_format not in GENERATIVE_WIRE_FORMATS:
        return NONE
    reported_in = reported_out = None
    usage = response.get("usage")
    if isinstance(usage, Mapping):
        reported_in = _number(usage.get("prompt_tokens"))
        reported_out = _number(usage.get("completion_tokens"))
    details = response.get("details")
    if isinstance(details, Mapping):
        reported_out = reported_out if reported_out is not None else _number(details.get("generated_tokens"))
        prefill = details.get("prefill")
        if reported_in is None and isinstance(prefill, list) and prefill:
            reported_in = len(prefill)
    tokens_in = reported_in if reported_in is not None else _estimate(_prompt_text(request))
    tokens_out = reported_out if reported_out is not None else _estimate(_generated_text(response))
    return TokenCount(tokens_in, tokens_out, estimated=reported_in is None or reported_out is None)
