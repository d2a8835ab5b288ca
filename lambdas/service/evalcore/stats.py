"""The one percentile of the template: eval reports, cost reports and the golden canary (in Lambda)."""

from __future__ import annotations

import math


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest rank: the smallest value with at least `pct` % of the values at or below it; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]
