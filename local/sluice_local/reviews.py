"""`make reviews [STATE=open] [ROUTE=intent]` and `make resolve-review ID=... LABEL=... [NOTE=...]`.

An operator's client of the review API: SigV4-signed calls (AWS_IAM), never an API key. Without
STACK it calls the running local platform with the local operator's credentials
(`.sluice/operators.json`); with STACK that deployed stack's `ApiUrl`, signed with the caller's
own AWS credentials (their role needs the stack's `OperatorPolicyArn`).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from sluice_local.operator_auth import Operator, load_operators, sign
from sluice_local.outputs import DEFAULT_OUTPUTS, read_outputs


def _target(args: argparse.Namespace) -> tuple[str, str, Operator | None]:
    if args.stack:
        import boto3

        session = boto3.session.Session()
        stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return outputs["ApiUrl"].rstrip("/"), session.region_name or "us-east-1", None
    if not args.outputs.exists():
        raise SystemExit("the local platform is not running: start it with `make run`")
    outputs = read_outputs(args.outputs)
    operator = next(iter(load_operators(Path(outputs["OperatorsFile"])).values()))
    return outputs["ApiUrl"].rstrip("/"), outputs["Region"], operator


def call(
    method: str, url: str, body: dict[str, Any] | None, *, region: str, operator: Operator | None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else b""
    if operator is not None:
        headers = sign(method, url, data, operator, region=region)
    else:
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(
            method=method, url=url, data=data, headers={"Content-Type": "application/json"} if data else {}
        )
        credentials = boto3.session.Session().get_credentials()
        if credentials is None:
            raise SystemExit("no AWS credentials to sign with")
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        headers = dict(request.headers.items())
    if data:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data or None, method=method, headers=headers)  # noqa: S310 - the platform's own URL
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def render(items: list[dict[str, Any]]) -> str:
    lines = []
    for item in items:
        text = next((value for value in item.get("input", {}).values() if isinstance(value, str)), "")
        resolution = item.get("resolution") or {}
        lines.append(
            f"{item['review_id']}  {item['route']:<8} {item['disposition']:<8} {','.join(item['reasons']):<22} "
            f"model={item.get('predicted_label') or '-'} conf={item.get('confidence') if item.get('confidence') is not None else '-'} "
            f"label={resolution.get('label', '-')}  input={text[:60]!r}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", help="a deployed stack's name; without it, the local platform")
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="review items by state (and route)")
    listing.add_argument("--state", default="open", choices=("open", "resolved"))
    listing.add_argument("--route")
    listing.add_argument("--limit", type=int, default=50)
    resolving = commands.add_parser("resolve", help="resolve an item with a label")
    resolving.add_argument("--id", required=True)
    resolving.add_argument("--label", required=True)
    resolving.add_argument("--note")
    args = parser.parse_args(argv)
    base, region, operator = _target(args)
    if args.command == "list":
        query = {
            "state": args.state,
            "limit": str(args.limit),
            **({"route": args.route} if args.route else {}),
        }
        status, body = call(
            "GET",
            f"{base}/v1/reviews?{urllib.parse.urlencode(query)}",
            None,
            region=region,
            operator=operator,
        )
        if status != 200:
            print(json.dumps(body), file=sys.stderr)
            return 1
        print(
            f"{len(body['items'])} {args.state} review items"
            + (" (more: --limit)" if body.get("next") else "")
        )
        if body["items"]:
            print(render(body["items"]))
        return 0
    submission = {"label": args.label, **({"note": args.note} if args.note else {})}
    status, body = call(
        "POST", f"{base}/v1/reviews/{args.id}/resolution", submission, region=region, operator=operator
    )
    print(json.dumps(body, indent=2))
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
