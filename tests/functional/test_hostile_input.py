"""Input a client controls never makes a 500: each hostile body gets a 4xx with a stable code.

Each case was a 500 (or a silent acceptance) before: a RecursionError, a UnicodeEncodeError, a
ValueError from int(), Powertools' multipart parser, case-sensitive media types.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.functional.conftest import Platform
from tests.sample_events import api_event

SYNC = '{{"route": "intent", "input": {{"text": {text}}}, "mode": "{mode}"}}'


def _post(platform: Platform, raw_body: str, **headers: str) -> tuple[int, dict[str, object], dict[str, str]]:
    return platform.call(api_event("post_inference_sync", raw_body=raw_body, headers=headers or None))


def _nested(depth: int) -> str:
    return '{"route": "intent", "input": {"text": "x", "deep": ' + "[" * depth + "]" * depth + "}}"


@pytest.mark.parametrize(
    ("raw_body", "status", "code"),
    [
        pytest.param(_nested(1000), 400, "INVALID_REQUEST", id="nested-1000-deep"),
        pytest.param(_nested(600), 400, "INVALID_REQUEST", id="nested-600-deep"),
        pytest.param(
            SYNC.format(text='"\\ud800"', mode="sync"), 400, "INVALID_REQUEST", id="lone-surrogate-value"
        ),
        pytest.param(
            SYNC.format(text='"\\ud800"', mode="async"), 400, "INVALID_REQUEST", id="lone-surrogate-async"
        ),
        pytest.param(
            '{"route": "intent", "input": {"text": "hi", "\\udc00": 1}}',
            400,
            "INVALID_REQUEST",
            id="lone-surrogate-key",
        ),
        pytest.param(
            SYNC.format(text="1" + "0" * 5000, mode="sync"), 400, "INVALID_REQUEST", id="5000-digit-int"
        ),
        pytest.param(SYNC.format(text="NaN", mode="sync"), 400, "MALFORMED_JSON", id="nan"),
        pytest.param(SYNC.format(text="Infinity", mode="sync"), 400, "MALFORMED_JSON", id="infinity"),
        pytest.param(
            '{"route": "intent", "route": "chat", "input": {"text": "hi"}}',
            400,
            "INVALID_REQUEST",
            id="duplicate-keys",
        ),
        pytest.param("{not json", 400, "MALFORMED_JSON", id="malformed"),
    ],
)
def test_hostile_bodies_get_a_4xx_with_a_short_message_and_no_values(
    platform: Platform, raw_body: str, status: int, code: str
) -> None:
    answer_status, answer, _ = _post(platform, raw_body)

    assert (answer_status, answer["error"]["code"]) == (status, code)  # type: ignore[index]
    message = answer["error"]["message"]  # type: ignore[index]
    assert len(message) < 200
    assert "ud800" not in message
    assert "0000000000" not in message


def test_a_body_as_the_deployed_api_hands_it_over_base64_encoded_is_answered_like_text(
    platform: Platform,
) -> None:
    body = SYNC.format(text='"where is my card, Jürgen?"', mode="sync")

    as_text = platform.call(api_event("post_inference_sync", raw_body=body))
    as_bytes = platform.call(api_event("post_inference_sync", raw_bytes=body.encode("utf-8")))

    assert as_text[0] == as_bytes[0] == 200
    assert as_text[1]["output"] == as_bytes[1]["output"]


@pytest.mark.parametrize(
    "invalid",
    [
        pytest.param(b"\xff", id="a-byte-no-utf8-has"),
        pytest.param(b"\xc3", id="a-truncated-sequence"),
        pytest.param(b"\xc0\xaf", id="an-overlong-encoding"),
        pytest.param(b"\xed\xa0\x80", id="an-encoded-surrogate"),
    ],
)
def test_invalid_utf8_is_refused_not_repaired(platform: Platform, invalid: bytes) -> None:
    # Without binary media types API Gateway would have replaced these bytes with U+FFFD and the
    # request would have been answered about text the client never sent.
    body = b'{"route": "intent", "input": {"text": "card ' + invalid + b' lost"}, "mode": "sync"}'

    status, answer, _ = platform.call(api_event("post_inference_sync", raw_bytes=body))

    assert (status, answer["error"]["code"]) == (400, "MALFORMED_JSON")  # type: ignore[index]
    assert answer["error"]["message"] == "The request body is not valid UTF-8"  # type: ignore[index]


def test_a_binary_body_is_measured_by_its_bytes_not_its_base64(platform: Platform) -> None:
    limit = platform.config.max_request_bytes
    # Base64 is a third longer: a body just under the limit must not be refused for its encoding.
    under = SYNC.format(text=json.dumps("a" * (limit - 80)), mode="async").encode()
    over = SYNC.format(text=json.dumps("a" * (limit + 1)), mode="async").encode() + b"\xff"

    _, under_answer, _ = platform.call(api_event("post_inference_sync", raw_bytes=under))
    over_status, over_answer, _ = platform.call(api_event("post_inference_sync", raw_bytes=over))

    assert len(under) <= limit < len(base64.b64encode(under))
    # (The route's own, smaller input limit may still refuse it: not the body's size guard.)
    assert not under_answer.get("error", {}).get("message", "").startswith("The request body exceeds")  # type: ignore[union-attr]
    assert (over_status, over_answer["error"]["code"]) == (413, "INPUT_TOO_LARGE")  # type: ignore[index]
    assert over_answer["error"]["message"].startswith("The request body exceeds")  # type: ignore[index]


def _body_of(size: int, tail: bytes = b"") -> bytes:
    """A sync request of exactly `size` bytes, ending its text with `tail`."""
    head, end = b'{"route": "intent", "input": {"text": "', b'"}, "mode": "sync"}'
    return head + b"a" * (size - len(head) - len(end) - len(tail)) + tail + end


def test_the_size_limit_counts_decoded_bytes_exactly_at_its_boundary(platform: Platform) -> None:
    limit = platform.config.max_request_bytes
    # Given bodies at the limit and one byte over it: text, and bytes that are not UTF-8 (which stay
    # base64-encoded, their padding included: the limit's length is not a multiple of three)
    at_limit_not_utf8 = _body_of(limit, tail=b"\xff")
    over_not_utf8 = _body_of(limit + 1, tail=b"\xff")
    over_as_text = _body_of(limit + 1)
    assert len(at_limit_not_utf8) % 3 != 0
    assert base64.b64encode(at_limit_not_utf8).endswith(b"=")

    # Then the one at the limit is within it (and refused for its bytes), the ones over it are 413
    status, answer, _ = platform.call(api_event("post_inference_sync", raw_bytes=at_limit_not_utf8))
    assert (status, answer["error"]["code"]) == (400, "MALFORMED_JSON")  # type: ignore[index]
    for over in (over_not_utf8, over_as_text):
        status, answer, _ = platform.call(api_event("post_inference_sync", raw_bytes=over))
        assert (status, answer["error"]["code"]) == (413, "INPUT_TOO_LARGE")  # type: ignore[index]
        assert answer["error"]["message"].startswith("The request body exceeds")  # type: ignore[index]
    # and so is text handed over as text, not base64
    status, answer, _ = _post(platform, over_as_text.decode())
    assert (status, answer["error"]["code"]) == (413, "INPUT_TOO_LARGE")  # type: ignore[index]


def test_a_base64_body_with_characters_outside_its_alphabet_is_refused_not_repaired(
    platform: Platform,
) -> None:
    # Given a body marked base64 that is not (a lenient decoder would drop the stray characters
    # and answer the JSON left over)
    event = api_event("post_inference_sync", raw_bytes=SYNC.format(text='"hi"', mode="sync").encode())
    event["body"] = "!" + event["body"]

    # Then it is refused, like any body that is not UTF-8 text
    status, answer, _ = platform.call(event)
    assert (status, answer["error"]["code"]) == (400, "MALFORMED_JSON")  # type: ignore[index]


def test_a_valid_surrogate_pair_is_an_emoji_not_an_error(platform: Platform) -> None:
    status, _, _ = _post(platform, SYNC.format(text='"card lost \\ud83d\\ude1e"', mode="sync"))
    assert status == 200


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("APPLICATION/JSON", 200),
        ("Application/Json; charset=UTF-8", 200),
        ("application/json; charset=utf8", 200),
        ('application/json; charset="UTF-8"', 200),
        ("application/json; charset=latin-1", 415),
        ("application/json;boundary=x;charset=latin-1", 415),
        ("application/json; charset=x=utf-8", 415),
        # Only the quotes around a charset are stripped, nothing else at its edges.
        ("application/json; charset=Xutf-8", 415),
        ('application/json; charset="utf-8X"', 415),
        ("multipart/form-data", 415),
        ("multipart/form-data; boundary=x", 415),
        ("application/x-www-form-urlencoded", 415),
        ("text/plain", 415),
    ],
)
def test_media_types_are_read_case_insensitively_and_only_utf8_json_is_accepted(
    platform: Platform, content_type: str, status: int
) -> None:
    body = json.dumps({"route": "intent", "input": {"text": "where is my card"}, "mode": "sync"})
    answer_status, answer, headers = _post(platform, body, **{"Content-Type": content_type})

    assert answer_status == status
    if status == 415:
        assert answer["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"  # type: ignore[index]
        # a refusal with nothing to wait for says nothing about retrying
        assert "retry-after" not in headers


def test_a_sync_answer_points_to_no_job_and_an_async_one_does(platform: Platform) -> None:
    sync_status, _, sync_headers = platform.call(api_event("post_inference_sync"))
    async_status, accepted, async_headers = platform.call(api_event("post_inference_async"))

    assert (sync_status, "location" in sync_headers) == (200, False)
    assert (async_status, async_headers["location"]) == (202, f"/v1/inferences/{accepted['id']}")


def test_a_wrong_method_is_405_with_allow(platform: Platform) -> None:
    event = api_event("get_health")
    event["httpMethod"] = "DELETE"
    response = platform.app.resolve(event, None)

    assert response["statusCode"] == 405
    assert response["multiValueHeaders"]["Allow"] == ["GET"]
    assert json.loads(response["body"])["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_unknown_route_and_variant_messages_do_not_echo_the_callers_value(platform: Platform) -> None:
    route = {"route": "secret-route-name", "input": {"text": "hi"}, "mode": "sync"}
    variant = {"route": "intent", "input": {"text": "hi"}, "mode": "sync", "variant": "secret-variant"}

    for body, code in ((route, "UNKNOWN_ROUTE"), (variant, "UNKNOWN_VARIANT")):
        status, answer, _ = platform.call(api_event("post_inference_sync", body=body))
        assert (status, answer["error"]["code"]) == (400, code)
        assert "secret" not in answer["error"]["message"]


def test_a_body_over_the_request_limit_is_413_before_it_is_parsed(platform: Platform) -> None:
    limit = platform.config.max_request_bytes
    status, answer, _ = _post(platform, SYNC.format(text=json.dumps("a" * (limit + 1)), mode="sync"))
    assert (status, answer["error"]["code"]) == (413, "INPUT_TOO_LARGE")  # type: ignore[index]


def test_an_input_over_the_routes_limit_is_413(platform: Platform) -> None:
    limit = platform.config.route("intent").max_input_bytes
    status, answer, _ = _post(platform, SYNC.format(text=json.dumps("a" * (limit + 10)), mode="sync"))
    assert (status, answer["error"]["code"]) == (413, "INPUT_TOO_LARGE")  # type: ignore[index]


@pytest.mark.parametrize(
    "text",
    [
        "mail me at \u200bjane.roe@example.com\u200b please",
        "mail me at \u2060jane.roe@example.com\ufeff please",
        "mail me at jane.roe@example.com\u00a0please",
    ],
)
def test_invisible_characters_around_personal_data_do_not_hide_it(platform: Platform, text: str) -> None:
    status, answer, _ = _post(platform, SYNC.format(text=json.dumps(text), mode="async"))

    assert status == 202
    assert answer["pii"] == {"EMAIL_ADDRESS": 1}
    (message,) = platform.receive()
    assert "jane.roe" not in message["Body"]


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE jobs; --",
        "<script>alert(1)</script> where is my card",
        "{{7*7}} ${jndi:ldap://127.0.0.1/a} $(id) `id`",
        '{"route": "chat"} \\" ] } injected',
    ],
)
def test_injection_strings_are_data(platform: Platform, text: str) -> None:
    status, answer, _ = _post(platform, SYNC.format(text=json.dumps(text), mode="sync"))

    assert status == 200
    assert answer["route"] == "intent"


@pytest.mark.parametrize(
    ("raw_body", "field"), [("", "body"), ("[]", "body"), ('{"route": "intent"}', "input")]
)
def test_a_missing_or_wrong_body_names_what_is_wrong(platform: Platform, raw_body: str, field: str) -> None:
    status, answer, _ = _post(platform, raw_body)
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")  # type: ignore[index]
    assert answer["error"]["message"].startswith(f"{field}:")  # type: ignore[index]
