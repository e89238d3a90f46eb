"""The review table's layout, shared by its adapter, the stack and the local platform.

Partition key `review_id`; two indexes list items by state, oldest first: `ByState` (every route)
and `ByStateRoute` (one route: its key is `<state>#<route>`).
"""

PARTITION_KEY = "review_id"
STATE_ATTRIBUTE = "review_state"
STATE_ROUTE_ATTRIBUTE = "state_route"
CREATED_ATTRIBUTE = "created_at"
BY_STATE_INDEX = "ByState"
BY_STATE_ROUTE_INDEX = "ByStateRoute"
# (index name, partition attribute): both sorted by `created_at`.
INDEXES = ((BY_STATE_INDEX, STATE_ATTRIBUTE), (BY_STATE_ROUTE_INDEX, STATE_ROUTE_ATTRIBUTE))
