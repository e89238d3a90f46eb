"""Human review on the running local platform: guardrails on real answers, a review item filed
by the intake poller, the operator routes behind SigV4 (unsigned is 403), a resolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from sluice_local.operator_auth import load_operators, sign
from tests.e2e.conftest import RunningPlatform, poll_until

# Texts no banking intent fits: the model spreads its probability, the top score falls below 0.5.
UNCLEAR = ["zxq vbnm plok", "purple elephant umbrella quantum", "hmm", "the the the", "qwerty asdf"]


def operator_get(platform: RunningPlatform, path: str) -> httpx.Response:
    operator = next(iter(load_operators(Path(platform.outputs["OperatorsFile"])).values()))
    url = platform.outputs["ApiUrl"].rstrip("/") + path
    return platform.http.get(path, headers=sign("GET", url, b"", operator, region=platform.outputs["Region"]))


def operator_post(platform: RunningPlatform, path: str, body: dict[str, Any]) -> httpx.Response:
    operator = next(iter(load_operators(Path(platform.outputs["OperatorsFile"])).values()))
    url = platform.outputs["ApiUrl"].rstrip("/") + path
    data = json.dumps(body).encode()
    headers = {
        **sign("POST", url, data, operator, region=platform.outputs["Region"]),
        "Content-Type": "application/json",
    }
    return platform.http.post(path, content=data, headers=headers)


def test_a_real_unclear_answer_is_flagged_reviewed_and_resolved(running_platform: RunningPlatform) -> None:
    # Given real answers to texts the intent model cannot place
    answers = [
        running_platform.post({"route": "intent", "input": {"text": text}, "mode": "sync"}).json()
        for text in UNCLEAR
    ]
    # Then every answer says which checks ran, and the unsure ones are flagged and in review
    assert all(answer["guardrails"]["checked"] == ["schema", "confidence"] for answer in answers)
    flagged = [answer for answer in answers if answer["guardrails"]["flagged"] == ["confidence"]]
    assert flagged, [answer["output"]["intents"][0]["score"] for answer in answers]
    target = flagged[0]["id"]

    # When an operator lists open reviews (signed), the intake poller has filed it
    def filed() -> bool:
        response = operator_get(running_platform, "/v1/reviews?route=intent&limit=100")
        return response.status_code == 200 and target in {i["review_id"] for i in response.json()["items"]}

    poll_until(filed, timeout_s=30, what=lambda: f"review {target} not listed")
    # And resolves it
    resolved = operator_post(running_platform, f"/v1/reviews/{target}/resolution", {"label": "card_arrival"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["item"]["resolution"]["reviewer"].endswith(":user/local-operator")


def test_operator_routes_refuse_unsigned_calls_and_tenant_keys(running_platform: RunningPlatform) -> None:
    for headers in ({}, {"x-api-key": running_platform.outputs["ApiKey"]}):
        response = running_platform.http.get("/v1/reviews", headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "MISSING_AUTHENTICATION_TOKEN"
