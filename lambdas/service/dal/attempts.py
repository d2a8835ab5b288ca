"""Attempts botocore gave up on: an attempt that timed out reading the answer may still have run (and been
billed) on the service's side, so the request's cost counts it."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ReadTimeoutError


class TimedOutAttempts:
    """Counts, per thread, the attempts of one operation that timed out since `reset()`. botocore asks
    "needs-retry?" after every attempt, the last one included; an in-memory fake client (no `meta.events`)
    counts none. Per thread: the eval harness shares a client between threads."""

    def __init__(self, client: Any, operation: str):
        self._local = threading.local()
        events = getattr(getattr(client, "meta", None), "events", None)
        if events is not None:
            events.register(f"needs-retry.{operation}", self._after_attempt)

    @property
    def count(self) -> int:
        return getattr(self._local, "count", 0)

    def reset(self) -> None:
        self._local.count = 0

    def _after_attempt(self, caught_exception=None, **_kwargs) -> None:
        if isinstance(caught_exception, ReadTimeoutError):
            self._local.count = self.count + 1
