"""moto at the scale of one uploaded file: cheap SQS calls and DynamoDB transactions.

An uploaded file puts its whole record count on a route queue at once, and every job it
becomes is counted towards its batch in a DynamoDB transaction. moto recomputes every queue
attribute (a pass over all messages, two datetimes per message) on each SendMessage and on each
message it hands out, scans every message on each DeleteMessage, and deep-copies every table a
transaction touches, whole, as its rollback point. At 100,000 records that is hours of CPU and
gigabytes of copies; real SQS and DynamoDB do not care. These patches keep moto's answers and
make those paths cheap:

- the clock moto's SQS reads is `time.time()` instead of a naive-datetime round trip, and the
  visible messages are found with one clock reading per pass instead of two per message;
- the approximate message counts are recomputed at most once a second per queue (SQS's own
  are approximate too), so a send no longer walks the queue;
- the retention check on receive reads the queue's retention period directly;
- a delete finds its message through an index of receipt handles instead of a scan;
- a TransactWriteItems call saves the items it names as its rollback point, not whole tables;
- the server lists moto's service folders once, not on every request it routes;
- EventBridge parses each target's JSONPath expressions once, not for every event it delivers
  (jsonpath_ng builds a new parser, tables and all, on each parse: most of a PutEvents call).

The local platform applies them to the moto server it runs in its own process. Safe to call
twice; no effect on moto outside that process. Measured by `bench/moto_speedups_bench.py`
(bench/results/moto_speedups.md: SQS 24x at 1,000 messages, DynamoDB transactions 8.5x);
`tests/unit/test_moto_speedups.py` fails if moto answers differently with them, or if the
internals they replace move in a moto upgrade.
"""

from __future__ import annotations

import copy
import time
import weakref
from typing import Any

_PATCHED = "sluice_fast"
_COUNTS_TTL_S = 1.0


def speed_up_moto() -> None:
    from moto.dynamodb import models as dynamodb
    from moto.sqs import models

    if getattr(models, _PATCHED, False):
        return
    setattr(models, _PATCHED, True)
    _transactions_save_only_their_items(dynamodb)
    _service_folders_listed_once()
    _jsonpath_parsed_once()
    _fast_clock(models)
    _one_clock_reading_per_pass(models.Queue)
    _cached_counts(models.Queue)
    _direct_retention_check(models.SQSBackend)
    _indexed_deletes(models.Queue, models.Message)


def _service_folders_listed_once() -> None:
    from moto import backends

    folders = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: folders


def _jsonpath_parsed_once() -> None:
    import functools

    from jsonpath_ng import ext

    # moto imports `parse` from here at each call; a parsed expression is immutable and reusable.
    ext.parse = functools.lru_cache(maxsize=256)(ext.parse)  # type: ignore[attr-defined]


def _fast_clock(models: Any) -> None:
    original_seconds, original_millis = models.unix_time, models.unix_time_millis

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(original_seconds(dt))

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(original_millis(dt))

    models.unix_time, models.unix_time_millis = unix_time, unix_time_millis


def _one_clock_reading_per_pass(queue_class: Any) -> None:
    def messages(self: Any) -> list[Any]:
        # moto's Message.visible / .delayed, with the same comparisons, against one `now`.
        now = time.time() * 1000.0
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    queue_class.messages = property(messages)


def _cached_counts(queue_class: Any) -> None:
    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        compute = getattr(queue_class, name).fget

        def cached(self: Any, _compute: Any = compute, _name: str = name) -> int:
            cache: dict[str, tuple[float, int]] = self.__dict__.setdefault("_sluice_counts", {})
            now = time.monotonic()
            hit = cache.get(_name)
            if hit is None or now - hit[0] > _COUNTS_TTL_S:
                hit = cache[_name] = (now, int(_compute(self)))
            return hit[1]

        setattr(queue_class, name, property(cached))


def _direct_retention_check(backend_class: Any) -> None:
    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return bool(int(queue.message_retention_period) + message.sent_timestamp / 1000 > time.time())

    backend_class.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


def _indexed_deletes(queue_class: Any, message_class: Any) -> None:
    # Every receipt handle a message was given, current or old (moto accepts both).
    by_receipt: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
    mark_received, delete_message = message_class.mark_received, queue_class.delete_message

    def indexed_mark_received(self: Any, visibility_timeout: int | None = None) -> None:
        mark_received(self, visibility_timeout)
        by_receipt[self.receipt_handle] = self

    def indexed_delete_message(self: Any, receipt_handle: str) -> None:
        message = by_receipt.get(receipt_handle)
        if message is None or receipt_handle in self.deleted_messages:
            delete_message(self, receipt_handle)  # moto's own answer: unknown, or deleted before
            return
        try:
            self._messages.remove(message)  # identity comparison: Message defines no __eq__
        except ValueError:
            delete_message(self, receipt_handle)  # another queue's handle: moto's own error
            return
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)

    message_class.mark_received = indexed_mark_received
    queue_class.delete_message = indexed_delete_message


def _transactions_save_only_their_items(dynamodb: Any) -> None:
    backend_class, table_class = dynamodb.DynamoDBBackend, dynamodb.Table

    class _TablesUncopied:
        """Stands in for the `copy` module inside moto's DynamoDB backend: tables are not copied."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, table_class) else copy.deepcopy(value, memo)

    dynamodb.copy = _TablesUncopied
    transact_write_items = backend_class.transact_write_items

    def item_saving_transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = [_save(self, op) for item in transact_items for op in item.values()]
        try:
            transact_write_items(self, transact_items)
        except Exception:
            for restore in reversed(saved):
                if restore is not None:
                    restore()
            raise

    backend_class.transact_write_items = item_saving_transact_write_items


def _save(backend: Any, op: dict[str, Any]) -> Any:
    """A function that puts the item `op` names back as it is now (None: nothing to save)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = backend.tables.get(op.get("TableName"))
    attributes = op.get("Key") or op.get("Item")
    if table is None or not attributes or table.hash_key_attr not in attributes:
        return None
    hash_key = DynamoType(attributes[table.hash_key_attr])
    range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    container = table.items[hash_key] if range_key is not None else table.items
    slot = range_key if range_key is not None else hash_key
    before = copy.deepcopy(container.get(slot))

    def restore() -> None:
        if before is None:
            container.pop(slot, None)
        else:
            container[slot] = before

    return restore
