"""`make redrive QUEUE=<route>|ingest [STACK=<stack>]`: a queue's dead letters back to it, audited.

Without STACK it acts on the running local platform (`.sluice/outputs.json`); with STACK on that
deployed stack, with the caller's AWS credentials (they need sqs:StartMessageMoveTask and
sqs:ListMessageMoveTasks, receive/delete on the dead-letter queue, send on the queue, and use
of the platform key). Prints progress and the audit event it published.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from sluice.adapters.eventbridge import EventBridgePublisher
from sluice.adapters.sqs_redrive import ReceiveSendDelete, SqsMoveTask
from sluice.operations.redrive import DeadLetterMover, QueuePair, redrive
from sluice_local.outputs import DEFAULT_OUTPUTS, local_session, read_outputs


def queue_pair(outputs: dict[str, Any], queue: str, sqs: Any) -> QueuePair:
    """The queue named `queue` (a route, or `ingest`) from the stack's outputs."""
    suffix = "Ingest" if queue == "ingest" else queue.title().replace("-", "")
    url_key, dlq_key = (
        ("IngestQueueUrl", "IngestDeadLetterQueueUrl")
        if queue == "ingest"
        else (f"QueueUrl{suffix}", f"DeadLetterQueueUrl{suffix}")
    )
    if url_key not in outputs or dlq_key not in outputs:
        known = sorted(
            k.removeprefix("DeadLetterQueueUrl").lower()
            for k in outputs
            if k.startswith("DeadLetterQueueUrl")
        )
        raise SystemExit(f"no queue '{queue}' in the outputs; routes with a DLQ: {known} (or 'ingest')")

    def arn(url: str) -> str:
        return str(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        )

    queue_url, dlq_url = outputs[url_key], outputs[dlq_key]
    return QueuePair(queue, queue_url, arn(queue_url), dlq_url, arn(dlq_url))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queue", required=True, help="a route name, or 'ingest'")
    parser.add_argument("--stack", help="a deployed stack's name; without it, the local platform")
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS, help="the local platform's outputs")
    args = parser.parse_args(argv)

    mover: DeadLetterMover
    if args.stack:
        import boto3

        session = boto3.session.Session()
        stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        sqs, events = session.client("sqs"), session.client("events")
        operator = str(session.client("sts").get_caller_identity()["Arn"])
        mover = SqsMoveTask(sqs)
    else:
        if not args.outputs.exists():
            raise SystemExit("the local platform is not running: start it with `make run`")
        outputs = read_outputs(args.outputs)
        session = local_session(outputs)
        endpoint = outputs["AwsEndpointUrl"]
        sqs = session.client("sqs", endpoint_url=endpoint)
        events = session.client("events", endpoint_url=endpoint)
        operator = f"local:{getpass.getuser()}"
        mover = ReceiveSendDelete(sqs)
    pair = queue_pair(outputs, args.queue, sqs)
    print(f"redriving {pair.name}: dead letters back to its queue", flush=True)
    record = redrive(
        pair,
        mover=mover,
        events=EventBridgePublisher(events, outputs["EventBusName"]),
        operator=operator,
        progress=lambda moved: print(f"  moved {moved}", flush=True),
    )
    print(f"done: {record.messages} messages moved; audit event QueueRedriven by {record.operator}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
