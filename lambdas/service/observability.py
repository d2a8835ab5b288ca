"""The one Logger and Metrics of every function in this package (Powertools), and tracing as configured.

Metrics carry two dimensions only, UseCase and Stage (set per request by the handler): each
dimension combination is a separate CloudWatch metric, so anything with many values (prompt
version, model id, request id) goes into the EMF record as a property instead. `service=""` keeps
Powertools from adding its default `service` dimension (it reads POWERTOOLS_SERVICE_NAME otherwise).

Tracing (`observability.tracing` in the use-case config, LIFTOFF_TRACING here):
- `active` (default): Lambda's active tracing records the invocation and its duration, API Gateway
  its own segment; nothing in the function imports the X-Ray SDK (about 150 ms of cold start).
- `sdk`: Powertools' Tracer on top (the AWS X-Ray SDK: a subsegment per handler and per route, boto3
  calls patched). The X-Ray SDK is in maintenance mode since 2026-02-25 (security fixes only);
  Powertools' OpenTelemetry tracer is not released yet (docs/resilience.md says what to do then).
- `off`: no tracing.
"""

from collections.abc import Callable
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics

METRICS_NAMESPACE = "Liftoff"
SERVICE = "liftoff"
TRACING_MODES = ("active", "sdk", "off")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service="")


@lru_cache(maxsize=1)
def tracer():
    """Powertools' Tracer (imported on first use: only the `sdk` mode pays for the X-Ray SDK)."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def traced(handler: Callable, mode: str) -> Callable:
    """`handler` wrapped in an X-Ray subsegment in `sdk` mode; as it is otherwise."""
    if mode != "sdk":
        return handler
    return tracer().capture_lambda_handler(handler, capture_response=False)
