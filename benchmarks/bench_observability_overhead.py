"""Benchmark: what metrics, logging and cost accounting add to a warm request (figures, not pass/fail).

The real `lambda_handler` on the warm path (prompt cached, model answered by an in-memory fake so
nothing else is measured), in three configurations, interleaved in rounds so drift hits them all:

- bare:      Powertools Logger below INFO, metrics calls no-ops, spend counter a no-op
- observed:  + the EMF record and the structured log line (as deployed, printed to /dev/null)
- full:      + the spend cap read and the spend add on DynamoDB (moto, in process)

Reports per-request medians and their ratios to `bare`. moto's in-process DynamoDB is not AWS:
the `full` figure says what the counter costs in CPU here; deployed, it is two DynamoDB round
trips (a consistent GetItem and an UpdateItem), single-digit milliseconds each within a Region.
Writes the `observability_overhead` section of reports/bench.json.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import boto3
from moto import mock_aws

from benchmarks.report import BenchRun, bench_run, bench_use_case
from liftoff.local.environments import LambdaContext
from liftoff.local.local_api import invoke_event
from liftoff.local.runtime import create_prompts_table, create_spend_table, handler_environment
from service.dal.model_client import ModelClient
from service.dal.prompt_store import PromptStore
from service.dal.spend_counter import SpendCounter
from service.handlers import invoke as handler_module
from service.handlers.prompt_sync import sync_prompts
from service.logic.invoke import InvokeDeps
from service.logic.prompt_resolver import PromptResolver
from service.settings import get_settings

ROUNDS = 15
PER_ROUND = 200


# a valid answer of the triage use case: the handler validates it against the prompt's output schema
ANSWER = '{"category": "billing", "priority": "high", "summary": "Customer was charged twice."}'


class FakeBedrock:
    """Answers Converse at once, with realistic usage figures."""

    def converse(self, **_request):
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": ANSWER}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 160, "outputTokens": 30, "totalTokens": 190},
            "metrics": {"latencyMs": 0},
        }


class NoSpend:
    largest_add_usd = 0.0

    def reading(self, _max_age_s: float) -> float:
        return 0.0

    def spent_today_usd(self) -> float:
        return 0.0

    def add(self, _cost: float) -> None:
        return None

    def seconds_until_reset(self) -> int:
        return 1


@contextlib.contextmanager
def observability(on: bool):
    metrics, logger = handler_module.metrics, handler_module.logger
    saved = {name: getattr(metrics, name) for name in ("add_metric", "add_metadata")}
    if not on:
        metrics.add_metric = lambda *a, **k: None
        metrics.add_metadata = lambda *a, **k: None
        logger.setLevel("WARNING")
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(metrics, name, fn)
        logger.setLevel("INFO")


def time_requests(event: dict, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        result = handler_module.lambda_handler(event, LambdaContext())
        samples.append((time.perf_counter() - started) * 1e6)
        assert result["statusCode"] == 200, result["body"]
    return samples


def main(run: BenchRun) -> None:
    rounds, per_round = run.size(ROUNDS, 1), run.size(PER_ROUND, 20)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    use_case = bench_use_case()
    for key, value in handler_environment(
        use_case, table="bench-prompts", spend_table="bench-spend", dynamodb_url="", bedrock_url=""
    ).items():
        os.environ[key] = value
    for key in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"):
        os.environ.pop(key, None)
    get_settings.cache_clear()
    settings = get_settings()
    event = invoke_event(
        {"prompt_id": "triage", "variables": {"message": "I was charged twice for order 1182"}},
        request_id="bench",
        stage="bench",
    )
    with mock_aws(), Path(os.devnull).open("w") as devnull:
        client = boto3.client("dynamodb")
        create_prompts_table(client, "bench-prompts")
        create_spend_table(client, "bench-spend")
        table = boto3.resource("dynamodb").Table("bench-prompts")
        sync_prompts(PromptStore(table, use_case.name), [p.model_dump(mode="json") for p in use_case.prompts], "b")
        resolver = PromptResolver(PromptStore(table, use_case.name), ttl_s=3600)
        model = ModelClient(FakeBedrock())
        counter = SpendCounter(boto3.resource("dynamodb").Table("bench-spend"), use_case.name)
        configs = {
            "bare": (False, InvokeDeps(settings, resolver, model, NoSpend())),
            "observed": (True, InvokeDeps(settings, resolver, model, NoSpend())),
            "full": (True, InvokeDeps(settings, resolver, model, counter)),
        }
        handler_module.logger.registered_handler.stream = devnull  # as deployed, minus the I/O
        samples: dict[str, list[float]] = {name: [] for name in configs}
        real_stdout = sys.stdout
        try:
            sys.stdout = devnull  # EMF records are printed
            for round_no in range(rounds + 1):
                for name, (on, deps) in configs.items():
                    handler_module.get_deps = lambda deps=deps: deps
                    with observability(on):
                        taken = time_requests(event, per_round)
                    if round_no:  # round 0 warms every path up
                        samples[name].extend(taken)
        finally:
            sys.stdout = real_stdout
        spent = counter.spent_today_usd()

    medians = {name: statistics.median(values) for name, values in samples.items()}
    result = {
        "requests_per_config": rounds * per_round,
        "median_us": {k: round(v, 1) for k, v in medians.items()},
        "ratio_to_bare": {k: round(v / medians["bare"], 2) for k, v in medians.items()},
        "added_us": {k: round(v - medians["bare"], 1) for k, v in medians.items()},
        "spend_counter_total_usd": spent,
    }
    run.write("observability_overhead", result)
    print(f"warm request through lambda_handler, {rounds * per_round} requests per configuration (median)")
    print(f"{'configuration':<12} {'median µs':>10} {'x bare':>8} {'added µs':>9}")
    for name in configs:
        print(
            f"{name:<12} {result['median_us'][name]:>10} {result['ratio_to_bare'][name]:>8} "
            f"{result['added_us'][name]:>9}"
        )
    print(f"-> {run.report}")


if __name__ == "__main__":
    main(bench_run(__doc__))
