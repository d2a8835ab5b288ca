"""The one Logger, Tracer and Metrics of every function in this package (Powertools)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "Liftoff"

logger = Logger(service="liftoff")
tracer = Tracer(service="liftoff")
metrics = Metrics(namespace=METRICS_NAMESPACE, service="liftoff")
