"""What a captured request keeps (capture.enabled in the use-case config): enough to replay it as an
eval case, after PII redaction, and nothing of the caller's identity."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from service.models.invoke import InvokeRequest, InvokeResponse


def sampled(rate: float) -> bool:
    return rate >= 1.0 or random.random() < rate  # noqa: S311 - sampling, not security


def capture_record(
    request: InvokeRequest,
    response: InvokeResponse,
    *,
    capture_id: str,
    redact: Callable[[str], str],
    ttl_days: int,
) -> dict:
    """The capture item, keyed by the server's `capture_id` (the request id may be the client's, and two
    requests may share one): prompt, version and model; the variables and the output with PII redacted
    (the output is already masked where the guardrail anonymised it); cost and latency; the request id
    the caller saw; an expiry."""
    now = time.time()
    return {
        "pk": capture_id,
        "request_id": response.request_id,
        "prompt_id": response.prompt_id,
        "prompt_version": response.prompt_version,
        "model_id": response.model_id,
        "variables": {name: redact(value) for name, value in request.variables.items()},
        "output": redact(response.output),
        "cost_usd": response.cost_usd,
        "latency_ms": response.latency_ms,
        "captured_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "expires_at": int(now) + ttl_days * 86_400,
    }
