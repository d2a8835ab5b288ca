"""Execution environments for local mode, run the way Lambda runs them.

Each environment is a process of its own that imports the handler once (a real cold start) and then
serves one request at a time. A request goes to an idle environment, the most recently used first; when
none is idle a new one is started, up to `max_environments` (the use case's reserved concurrency, or a
local cap); beyond that the request is throttled, as Lambda throttles a function at its concurrency
limit. Environments idle for `idle_timeout_s` are stopped. So `liftoff load` sees what a deployed
stage does: concurrency, cold starts and throttles, not one process queueing every request.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_ENVIRONMENTS = 10  # local cap when the use case reserves no concurrency (each is ~150 MB)
DEFAULT_IDLE_TIMEOUT_S = 120.0
HANDLER = "service.handlers.invoke.lambda_handler"
LAMBDA_MAX_API_TIMEOUT_S = 29.0  # a context made without the function's timeout: API Gateway's longest wait
# on a proxy result whose request started its environment: `liftoff eval` sets local cold starts apart
COLD_START_HEADER = "X-Liftoff-Cold-Start"


class LambdaContext:
    """Just enough of the Lambda context object for Powertools."""

    function_name = "liftoff-local-invoke"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:liftoff-local-invoke"

    def __init__(self, timeout_s: float = LAMBDA_MAX_API_TIMEOUT_S):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """What is left of the function's timeout, counting down from the invocation as Lambda's does (the
        invoke function stops a Bedrock attempt that could outlast it: service/dal/deadline.py)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Throttled(Exception):
    """Every environment is busy and no more may be started."""


class EnvironmentFailed(Exception):
    """The environment died while serving the request (the process exited)."""


def _serve(conn: Any, handler_path: str, timeout_s: float = LAMBDA_MAX_API_TIMEOUT_S) -> None:
    """An environment's life: import the handler (the cold start), then one request at a time."""
    import importlib

    module, name = handler_path.rsplit(".", 1)
    handler = getattr(importlib.import_module(module), name)
    conn.send("ready")
    while True:
        try:
            event = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(handler(event, LambdaContext(timeout_s)))


@dataclass
class _Environment:
    process: Any
    conn: Any
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class PoolStats:
    environments: int
    busy: int
    max_environments: int
    cold_starts: int
    cold_start_ms: list[float]
    throttles: int
    invocations: int


class EnvironmentPool:
    def __init__(
        self,
        *,
        max_environments: int,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        handler_path: str = HANDLER,
        timeout_s: float = LAMBDA_MAX_API_TIMEOUT_S,
    ):
        """`timeout_s`: the function's timeout, which each invocation's context counts down from (Lambda does
        not stop a local environment at it, but the function sees its time left as it would deployed)."""
        self.max_environments = max_environments
        self.timeout_s = timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._handler_path = handler_path
        self._context = multiprocessing.get_context("spawn")  # a fresh interpreter: a real cold start
        self._lock = threading.Lock()
        self._idle: list[_Environment] = []
        self._started = 0  # busy + idle + starting
        self._cold_start_ms: list[float] = []
        self._throttles = 0
        self._invocations = 0
        self._closed = threading.Event()
        threading.Thread(target=self._reap, name="environment-reaper", daemon=True).start()

    def invoke(self, event: dict) -> dict:
        """Run `event` in an environment; Throttled when all are busy and the limit is reached."""
        with self._lock:
            self._invocations += 1
            environment = self._idle.pop() if self._idle else None  # LIFO: the warmest first
            if environment is None:
                if self._started >= self.max_environments:
                    self._throttles += 1
                    raise Throttled(f"all {self.max_environments} execution environments are busy")
                self._started += 1
        cold = environment is None
        if environment is None:
            environment = self._start()
        try:
            environment.conn.send(event)
            result = environment.conn.recv()
        except (EOFError, OSError) as exc:
            self._discard(environment)
            raise EnvironmentFailed(f"the execution environment exited: {exc}") from exc
        environment.last_used = time.monotonic()
        with self._lock:
            self._idle.append(environment)
        if cold and isinstance(result, dict) and "statusCode" in result:
            result = {**result, "headers": {**(result.get("headers") or {}), COLD_START_HEADER: "true"}}
        return result

    def _start(self) -> _Environment:
        started = time.perf_counter()
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self._handler_path, self.timeout_s), daemon=True)
        try:
            process.start()
            child.close()
            if parent.recv() != "ready":
                raise EnvironmentFailed("the execution environment did not start")
        except (EOFError, OSError) as exc:
            with self._lock:
                self._started -= 1
            process.kill()
            raise EnvironmentFailed(f"the execution environment failed to start: {exc}") from exc
        with self._lock:
            self._cold_start_ms.append(round((time.perf_counter() - started) * 1000, 1))
        return _Environment(process, parent)

    def _discard(self, environment: _Environment) -> None:
        with self._lock:
            self._started -= 1
        environment.conn.close()
        environment.process.kill()
        environment.process.join(timeout=5)

    def _reap(self) -> None:
        while not self._closed.wait(1.0):
            cutoff = time.monotonic() - self._idle_timeout_s
            with self._lock:
                stale = [e for e in self._idle if e.last_used < cutoff]
                self._idle = [e for e in self._idle if e.last_used >= cutoff]
            for environment in stale:
                self._discard(environment)

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(
                environments=self._started,
                busy=self._started - len(self._idle),
                max_environments=self.max_environments,
                cold_starts=len(self._cold_start_ms),
                cold_start_ms=list(self._cold_start_ms),
                throttles=self._throttles,
                invocations=self._invocations,
            )

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            environments, self._idle = self._idle, []
        for environment in environments:
            self._discard(environment)
