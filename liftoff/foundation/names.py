"""Names of resources: the stack of a use case in a stage, and names that must fit a service's length
limit or change when their data changes."""

from __future__ import annotations

import hashlib
import json


def stack_name(use_case: str, stage: str) -> str:
    """The CloudFormation stack of `use_case` in `stage` (app.py deploys it; the CLI looks it up)."""
    return f"Liftoff-{use_case}-{stage}"


def digest(value: object, length: int = 8) -> str:
    """A short, stable hash of JSON-able data (names that must change when the data changes)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:length]


def fitted_name(base: str, max_length: int) -> str:
    """`base` when it fits; else cut, with a hash of the whole so that two long names stay distinct."""
    if len(base) <= max_length:
        return base
    suffix = "-" + digest(base)
    return base[: max_length - len(suffix)].rstrip("-_") + suffix
