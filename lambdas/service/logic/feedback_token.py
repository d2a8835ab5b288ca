"""The feedback token returned with every answer: a signed reference to the request, so
POST /v1/feedback can tell a real request from an unknown, forged or expired one without a database
lookup, and invoke writes nothing extra to make that possible.

`<claims>.<signature>`, both base64url without padding: claims are compact JSON (the request id the
caller saw, the capture id the server chose for this answer, prompt id and version, model, issued at,
whether the request was captured, and a digest of the caller's identity), the signature HMAC-SHA256 of
the claims' encoding under the use case's feedback key (a Secrets Manager secret, read once per
execution environment). A token older than the capture TTL is expired: its record is gone too.

The capture id, not the request id, names the stored answer and its rating: a request id may come from
the client (`x-request-id`), and two requests may send the same one. The caller digest binds the token
to who asked (the API key id, IAM ARN or Cognito sub, as API Gateway authenticated them): another
caller holding the token gets the same 404 as for a forged one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Claims:
    request_id: str  # what the caller saw (their x-request-id, or API Gateway's)
    prompt_id: str
    prompt_version: int
    model_id: str
    issued_at: int  # epoch seconds
    captured: bool
    capture_id: str  # the server's id of this answer: the capture table's key
    caller: str  # caller_digest() of who asked


def caller_digest(identity: str) -> str:
    """A short, one-way digest of a caller identity (handlers/idempotency.py caller_identity)."""
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


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
