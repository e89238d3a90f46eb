"""Token counts of generative routes: the model's own where it reports them, an estimate otherwise."""

from __future__ import annotations

from sluice.cost.tokens import TokenCount, count_tokens

PROMPT = {"inputs": "Summarise my last three card payments", "parameters": {"max_new_tokens": 64}}


def test_tgi_details_give_the_generated_tokens_and_the_prefill_the_prompt_tokens() -> None:
    # Given a TGI answer to a request that asked for details and decoder input details
    answer = {
        "generated_text": "You paid three times.",
        "details": {"finish_reason": "eos_token", "generated_tokens": 6, "prefill": [{"id": 1}] * 9},
    }

    # When its tokens are counted
    tokens = count_tokens("hf-tgi", PROMPT, answer)

    # Then both come from the model, not estimated
    assert tokens == TokenCount(tokens_in=9, tokens_out=6, estimated=False)


def test_the_messages_api_usage_field_is_taken_as_reported() -> None:
    request = {"messages": [{"role": "user", "content": "Hello there"}]}
    answer = {
        "choices": [{"message": {"role": "assistant", "content": "Hi!"}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }

    assert count_tokens("hf-tgi", request, answer) == TokenCount(11, 3, estimated=False)


def test_without_a_usage_field_both_are_estimated_at_four_bytes_a_token() -> None:
    # Given an answer with only the generated text (TGI without `details`)
    answer = {"generated_text": "x" * 41}

    tokens = count_tokens("hf-tgi", PROMPT, answer)

    # Then the prompt's and the reply's UTF-8 bytes over 4, rounded up, marked as estimated
    assert tokens == TokenCount(tokens_in=10, tokens_out=11, estimated=True)


def test_details_without_prefill_report_the_output_and_leave_the_input_estimated() -> None:
    answer = {"generated_text": "ok", "details": {"generated_tokens": 1, "prefill": []}}

    tokens = count_tokens("hf-tgi", PROMPT, answer)

    assert (tokens.tokens_in, tokens.tokens_out, tokens.estimated) == (10, 1, True)


def test_routes_that_do_not_generate_text_count_no_tokens() -> None:
    answer = {"intents": [{"label": "card_arrival", "score": 0.9}]}

    assert count_tokens("sluice", {"text": "where is my card"}, answer) == TokenCount(0, 0, False)
