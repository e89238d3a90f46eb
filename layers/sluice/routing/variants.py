"""Variant assignment: which production variant serves a request.

Sticky by tenant and caller key with weighted rendezvous hashing: every variant scores the key,
the highest score wins, and a variant's chance of winning is exactly its share of the weights.
A caller keeps its variant as long as the weights do; when they shift, few callers move: raising
only the canary's weight moves callers only to the canary, and no more of them than its new share
needs.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass

from sluice.errors import UnknownVariant
from sluice.routing.table import RouteTarget, VariantTarget

_SCALE = float(1 << 64)


@dataclass(frozen=True)
class Assignment:
    variant: VariantTarget
    # True when the caller asked for the variant (SageMaker TargetVariant), not the weights.
    explicit: bool = False


def sticky_key(tenant: str, caller_key: str | None) -> str:
    """Callers without a key get a fresh one per request: the weights hold, stickiness does not."""
    return f"{tenant}\x1f{caller_key if caller_key is not None else uuid.uuid4().hex}"


def assign(route: RouteTarget, *, tenant: str, key: str, requested: str | None = None) -> Assignment:
    if requested is not None:
        variant = route.variant_named(requested)
        if variant is None:
            known = [v.name for v in route.production_variants]
            raise UnknownVariant(f"Route '{route.name}' has no such variant. Known variants: {known}")
        return Assignment(variant, explicit=True)
    weights = route.weights_for(tenant)
    variants = [v for v in route.production_variants if weights.get(v.name, 0) > 0]
    if not variants:  # a table where nothing has weight still serves, from the first variant
        return Assignment(route.production_variants[0])
    return Assignment(max(variants, key=lambda v: _score(route.name, key, v.name, weights[v.name])))


def _score(route: str, key: str, variant: str, weight: float) -> float:
    digest = hashlib.blake2b(f"{route}\x1f{variant}\x1f{key}".encode(), digest_size=8).digest()
    # A uniform draw in (0, 1); -w/ln(u) is the weighted rendezvous score (P(win) = w / sum(w)).
    uniform = (int.from_bytes(digest, "big") + 0.5) / _SCALE
    return -weight / math.log(uniform)
