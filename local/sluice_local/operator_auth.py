"""API Gateway's AWS_IAM authorization, locally: SigV4 verified, the identity into the event.

Deployed, API Gateway verifies the SigV4 signature of a call to an operator route against IAM and
puts the caller into `requestContext.identity` (`accessKey`, `accountId`, `caller`, `user`,
`userArn`); an unsigned call is refused before the function runs. Here the local operators'
credentials are a file (`.sluice/operators.json`, 0600, one operator made on first start); a
request is verified with botocore's own SigV4 code (the same canonical request the client
signed), and refused with 403 in the gateway's envelope when it is unsigned, signed with an
unknown key, signed wrongly or too old.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCOUNT = "123456789012"
SERVICE = "execute-api"
# SigV4 requests are valid for 15 minutes after their X-Amz-Date (AWS's signing docs).
MAX_SKEW = timedelta(minutes=15)
_TIMESTAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Operator:
    access_key_id: str
    secret_access_key: str
    name: str

    @property
    def user_arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:user/{self.name}"

    def identity(self) -> dict[str, str]:
        """What API Gateway puts in `requestContext.identity` for an IAM user."""
        return {
            "accessKey": self.access_key_id,
            "accountId": ACCOUNT,
            "caller": self.access_key_id,
            "user": self.access_key_id,
            "userArn": self.user_arn,
        }


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


def load_operators(path: Path) -> dict[str, Operator]:
    """The local operators by access key id; the first start makes one (`local-operator`)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        operator = {
            "access_key_id": "AKIALOCALOPERATOR" + secrets.token_hex(2).upper(),
            "secret_access_key": secrets.token_urlsafe(30),
            "name": "local-operator",
        }
        path.write_text(json.dumps([operator], indent=2) + "\n")
        path.chmod(0o600)
    return {item["access_key_id"]: Operator(**item) for item in json.loads(path.read_text())}


def sign(method: str, url: str, body: bytes, operator: Operator, *, region: str) -> dict[str, str]:
    """The headers a SigV4 client (boto3, awscurl) sends: what `make reviews` uses."""
    request = AWSRequest(
        method=method, url=url, data=body, headers={"Content-Type": "application/json"} if body else {}
    )
    SigV4Auth(Credentials(operator.access_key_id, operator.secret_access_key), SERVICE, region).add_auth(
        request
    )
    return dict(request.headers.items())


def verify(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    operators: Mapping[str, Operator],
    region: str,
    now: datetime | None = None,
) -> Operator | Refusal:
    """The operator who signed this request, or why it is refused."""
    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return Refusal(
            "MISSING_AUTHENTICATION_TOKEN", "This operation needs a SigV4-signed request (AWS_IAM)"
        )
    fields = _fields(authorization.removeprefix("AWS4-HMAC-SHA256 "))
    credential = fields.get("Credential", "").split("/")
    signed = [name for name in fields.get("SignedHeaders", "").split(";") if name]
    stamp = lowered.get("x-amz-date", "")
    if len(credential) != 5 or not signed or "host" not in signed or not stamp:
        return Refusal("INVALID_SIGNATURE", "The request's SigV4 signature is invalid")
    access_key, _, signed_region, service, _ = credential
    operator = operators.get(access_key)
    if operator is None:
        return Refusal("INVALID_SIGNATURE", "The security token included in the request is invalid")
    try:
        at = datetime.strptime(stamp, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        return Refusal("INVALID_SIGNATURE", "The request's X-Amz-Date is malformed")
    if abs((now or datetime.now(UTC)) - at) > MAX_SKEW or signed_region != region or service != SERVICE:
        return Refusal("INVALID_SIGNATURE", "Signature expired or not for this API")
    request = AWSRequest(
        method=method, url=url, data=body, headers={name: lowered[name] for name in signed if name in lowered}
    )
    request.context["timestamp"] = stamp
    auth = SigV4Auth(Credentials(operator.access_key_id, operator.secret_access_key), SERVICE, region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if not secrets.compare_digest(expected, fields.get("Signature", "")):
        return Refusal("INVALID_SIGNATURE", "The request's SigV4 signature is invalid")
    return operator


def _fields(text: str) -> dict[str, Any]:
    parts = (part.strip().partition("=") for part in text.split(","))
    return {name: value for name, _, value in parts}
