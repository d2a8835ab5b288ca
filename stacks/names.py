"""Names of resources that must fit a service's length limit or be unique per account."""

from __future__ import annotations

import hashlib
import json


def digest(value: object, length: int = 8) -> str:
    """A short, stable hash of JSON-able data (names that must change when the data changes)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:length]


def fitted_name(base: str, max_length: int) -> str:
    """`base` when it fits; else cut, with a hash of the whole so that two long names stay distinct."""
    if len(base) <= max_length:
        return base
    suffix = "-" + digest(base)
    return base[: max_length - len(suffix)].rstrip("-_") + suffix


def regional_name(base: str, suffix: str = "") -> str:
    """`<base>-<Region><suffix>`, for names unique in the whole account (IAM policies, CloudWatch
    dashboards): the Region keeps a second Region's deployment from colliding with the first."""
    from aws_cdk import Aws, Fn  # here, not at the top: liftoff's CLI imports this module without CDK

    return Fn.join("", [f"{base}-", Aws.REGION, *([suffix] if suffix else [])])
