"""The key that signs feedback tokens: a Secrets Manager secret, read once per execution environment."""

from __future__ import annotations

from functools import lru_cache

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


class FeedbackKeyUnavailable(Exception):
    """The secret could not be read."""


@lru_cache(maxsize=4)
def feedback_key(secret_id: str) -> bytes:
    """The secret's value as the HMAC key. Cached for the environment's life (a failure is not cached:
    the next request tries again)."""
    client = boto3.client(
        "secretsmanager",
        config=Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2}),
    )
    try:
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except (ClientError, BotoCoreError, KeyError) as exc:
        raise FeedbackKeyUnavailable(f"cannot read the feedback key {secret_id}: {exc}") from exc
    return value.encode()
