"""Cost governance: per-tenant budgets and quotas held under concurrency, metering, and the
actions cost alarms take (and undo) through the `budget` function."""
