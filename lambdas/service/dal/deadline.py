"""The request's deadline: no Bedrock attempt starts that could outlast the invoke function's timeout.

The config sizes the function's timeout for the Retrieve and the first answer's model calls, the fallback's
included (liftoff/foundation/config.py, `request_budget_seconds`). A JSON answer's repair turns and the
ApplyGuardrail check of a tool answer are further calls on the same clients, with the same attempts: budgeting
each of them would pass API Gateway's 29 s, yet after a slow first answer they may not fit what is left. Lambda
would then cut the request off: no JSON answer, and the spend of its billed calls never counted.

So every attempt of the Bedrock clients (botocore's `before-send`: the first of a call and each retry) first
checks the time left: an attempt whose worst case (connect + read timeout) would not end RESERVE_S before the
deadline is not sent, and the request answers 504 RequestOutOfTime with what it spent counted. The handler sets
the deadline from Lambda's context for the length of a request (`request_deadline`); without one (the golden
canary, which budgets its cases itself, and the tests that call the logic) every attempt is sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from service.models.errors import RequestOutOfTime

# What the request needs after its last Bedrock call: the spend counter's ADD (one attempt of at most 1 s connect +
# 1 s read: service/dal/dynamodb.py), the metrics and the answer. The config leaves the function this much beyond
# the Bedrock calls it budgets (liftoff/foundation/config.py, LAMBDA_TIMEOUT_HEADROOM_S is this figure).
RESERVE_S = 2
_DEADLINE: ContextVar[float | None] = ContextVar("liftoff_request_deadline", default=None)
clock = time.monotonic  # a test moves it


@contextmanager
def request_deadline(remaining_s: float | None) -> Iterator[None]:
    """For the length of a request: the deadline is `remaining_s` from now (Lambda's time left), or none."""
    token = _DEADLINE.set(None if remaining_s is None else clock() + remaining_s)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def keep_within_deadline(client: Any) -> None:
    """Check the time left before each attempt of `client` (an in-memory fake without `meta.events`: never)."""
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return
    config = client.meta.config
    attempt_s = float(config.connect_timeout) + float(config.read_timeout)
    service = client.meta.service_model.service_id.hyphenize()
    events.register(f"before-send.{service}", lambda event_name="", **_: _check(attempt_s, event_name))


def _check(attempt_s: float, event_name: str) -> None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return
    left = deadline - clock()
    if left < attempt_s + RESERVE_S:
        operation = event_name.rsplit(".", 1)[-1] or "Bedrock"
        raise RequestOutOfTime(
            f"the answer needs another {operation} attempt, which may take up to {attempt_s:g}s, and "
            f"{max(left, 0.0):.1f}s are left before the function's timeout: answered now, with what was spent "
            "counted, rather than cut off; retry the request"
        )
