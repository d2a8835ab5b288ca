"""Names built from CloudFormation tokens (the pure naming rules are liftoff/foundation/names.py)."""

from __future__ import annotations

from aws_cdk import Aws, Fn


def regional_name(base: str, suffix: str = "") -> str:
    """`<base>-<Region><suffix>`, for names unique in the whole account (IAM policies, CloudWatch
    dashboards): the Region keeps a second Region's deployment from colliding with the first."""
    return Fn.join("", [f"{base}-", Aws.REGION, *([suffix] if suffix else [])])
