"""How deep a parsed JSON value nests: the API's edges refuse deep bodies, the output contract deep answers."""

from __future__ import annotations

from typing import Any


def nesting_depth(value: Any, stop_after: int) -> int:
    """How deep objects and arrays nest in a parsed JSON value, counted up to `stop_after` + 1 (iterative:
    no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > stop_after:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest
