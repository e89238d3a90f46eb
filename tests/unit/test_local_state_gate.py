"""The gate that makes a snapshot of the local AWS consistent: calls share it, a snapshot excludes."""

from __future__ import annotations

import threading
import time

from sluice_local.moto_state import RequestGate, _operation


def test_a_snapshot_waits_for_the_call_in_flight_and_holds_the_next_one_off() -> None:
    gate = RequestGate()
    order: list[str] = []
    in_call, finish_call, snapshot_started = threading.Event(), threading.Event(), threading.Event()

    def call_in_flight() -> None:
        with gate.shared():
            in_call.set()
            finish_call.wait(5)
            order.append("first call answered")

    def snapshot() -> None:
        snapshot_started.set()
        with gate.exclusive():
            order.append("snapshot")

    def later_call() -> None:
        with gate.shared():
            order.append("later call")

    first = threading.Thread(target=call_in_flight)
    first.start()
    assert in_call.wait(5)
    snapshotter = threading.Thread(target=snapshot)
    snapshotter.start()
    assert snapshot_started.wait(5)
    # Given a snapshot waiting for the call in flight, a call that arrives now must wait too
    deadline = time.monotonic() + 5
    while not gate._writer_waiting:  # the snapshot has asked for the gate
        assert time.monotonic() < deadline
        time.sleep(0.001)  # polling with a deadline
    later = threading.Thread(target=later_call)
    later.start()
    finish_call.set()
    for thread in (first, snapshotter, later):
        thread.join(5)

    assert order == ["first call answered", "snapshot", "later call"]


def test_operations_are_named_by_service_and_action() -> None:
    assert _operation({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.UpdateItem"}) == "DynamoDB.UpdateItem"
    assert _operation({"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"}) == "AmazonSQS.SendMessage"
    assert _operation({"QUERY_STRING": "Action=Publish&Version=2010-03-31"}) == "query.Publish"
    assert _operation({"REQUEST_METHOD": "PUT", "QUERY_STRING": ""}) == "rest.PUT"
