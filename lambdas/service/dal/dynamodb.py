"""The DynamoDB resource the request-path functions use (invoke, feedback): short timeouts and two
attempts (botocore's default is 60 s each), so a hung connection reaches the "counter unavailable,
serve anyway" and stale-prompt paths long before the function's timeout."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 1.0
TOTAL_ATTEMPTS = 2


def dynamodb_resource(total_attempts: int = TOTAL_ATTEMPTS) -> Any:
    """`total_attempts=1` for a write that must not be sent twice (the spend counter's ADD)."""
    return boto3.resource(
        "dynamodb",
        config=Config(
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            retries={"mode": "standard", "total_max_attempts": total_attempts},
        ),
    )
