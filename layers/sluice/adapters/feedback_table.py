"""The feedback table's layout, shared by its adapter, the stack and the local platform.

Kept apart from the adapter so the stack and the local platform can name the index and the TTL
attribute without importing the lifecycle logic (and with it `sluice.observability`, whose
Metrics must first be built inside a function's own environment).
"""

BY_ROUTE_INDEX = "ByRoute"
TTL_ATTRIBUTE = "expires_at"
