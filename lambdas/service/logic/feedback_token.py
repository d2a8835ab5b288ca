"""The feedback token returned with every answer: a signed reference to the request, so
POST /v1/feedback can tell a real request from an unknown, forged or expired one without a database
lookup, and invoke writes nothing extra to make that possible.

`<claims>.<signature>`, both base64url without padding: claims are compact JSON (request id, prompt
id and version, model, issued at, whether the request was captured), the signature HMAC-SHA256 of the
claims' encoding under the use case's feedback key (a Secrets Manager secret, read once per
execution environment). A token older than the capture TTL is expired: its record is gone too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Claims:
    request_id: str
    prompt_id: str
    prompt_version: int
    model_id: str
    issued_at: int  # epoch seconds
    captured: bool


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, claims: Claims) -> str:
    body = _b64(json.dumps(asdict(claims), separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def verify(key: bytes, token: str, *, now: int, max_age_s: int) -> Claims | None:
    """The token's claims when it is ours, intact and not expired; else None."""
    body, _, signature = token.partition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        claims = Claims(**json.loads(_unb64(body)))
    except (ValueError, TypeError):
        return None
    if not 0 <= now - claims.issued_at <= max_age_s:
        return None
    return claims
