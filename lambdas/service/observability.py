"""The one Logger, Tracer and Metrics of every function in this package (Powertools).

Metrics carry two dimensions only, UseCase and Stage (set per request by the handler): each
dimension combination is a separate CloudWatch metric, so anything with many values (prompt
version, model id, request id) goes into the EMF record as a property instead. `service=""` keeps
Powertools from adding its default `service` dimension (it reads POWERTOOLS_SERVICE_NAME otherwise).
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "Liftoff"
SERVICE = "liftoff"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service="")
