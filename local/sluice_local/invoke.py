"""`make invoke FN=<function> EVENT=<file>`: run one deployed handler on a sample event, locally.

AWS is moto in-process, with the stack's resources created from cdk.json. SageMaker Runtime
calls pass through to AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME (the local endpoint of `make run`,
http://127.0.0.1:8080 by default); if nothing listens there, sync requests answer 503, as the
deployed API does when its endpoint is down. For the worker, the jobs named in the SQS batch
are first recorded as queued, as the api function would have done.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from sluice_local.platform import ROOT, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--function", required=True, choices=sorted(p.name for p in (ROOT / "functions").iterdir())
    )
    parser.add_argument("--event", required=True, type=Path)
    args = parser.parse_args(argv)
    event: dict[str, Any] = json.loads(args.event.read_text())

    os.environ.setdefault("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:8080")
    os.environ.update(
        {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    )
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.pop("AWS_ENDPOINT_URL", None)

    import boto3
    from moto import mock_aws

    from sluice_local.provision import function_settings, provision
    from sluice_local.runtime import LocalContext, load_handler

    config = load_config()
    with mock_aws(config={"core": {"passthrough": {"services": ["sagemaker-runtime"]}}}):
        session = boto3.session.Session(region_name="us-east-1")
        resources = provision(
            config,
            dynamodb=session.client("dynamodb"),
            sqs=session.client("sqs"),
            events=session.client("events"),
            region="us-east-1",
        )
        environments = function_settings(config, resources).environments()
        if args.function not in environments:
            parser.error(f"{args.function} needs the uploads or routing resources: use `make run`")
        if args.function == "worker":
            _record_queued_jobs(event, session.client("dynamodb"), resources.jobs_table)
        _, handler = load_handler(args.function, environments[args.function])
        response = handler(event, LocalContext(function_name=f"sluice-{args.function}", timeout_seconds=30))
    print(json.dumps(response, indent=2))
    return 0


def _record_queued_jobs(event: dict[str, Any], dynamodb: Any, table: str) -> None:
    from sluice.adapters.dynamodb_jobs import DynamoJobStore
    from sluice.jobs.models import Job

    store = DynamoJobStore(dynamodb, table)
    for record in event.get("Records", []):
        try:
            message = json.loads(record["body"])
            store.create(Job(id=message["job_id"], tenant=message["tenant"], route=message["route"]))
        except (ValueError, KeyError):
            continue  # a malformed record is the handler's to reject


if __name__ == "__main__":
    sys.exit(main())
