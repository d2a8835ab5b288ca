"""Benchmark: prompt resolution with the in-memory cache (figures, not pass/fail).

- DynamoDB reads per request at steady state: 20,000 requests spread over 10 simulated minutes
  with the production TTL (60 s), canary on, against moto.
- Added latency of a cache hit: median of many `resolve` calls, in microseconds.
Writes the `prompt_cache` section of reports/bench.json and prints a table.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

import boto3
from moto import mock_aws

from benchmarks.report import BenchRun, bench_run, bench_use_case
from liftoff.local.runtime import create_prompts_table
from service.dal.prompt_store import PromptStore
from service.logic.prompt_registry import Proof, start_canary
from service.logic.prompt_resolver import PromptResolver

REQUESTS = 20_000
SIMULATED_SECONDS = 600
HIT_SAMPLES = 50_000


class CountingStore:
    def __init__(self, inner: PromptStore):
        self.inner, self.reads = inner, 0

    def get_alias(self, *args):
        self.reads += 1
        return self.inner.get_alias(*args)

    def get_version(self, *args):
        self.reads += 1
        return self.inner.get_version(*args)


def main(run: BenchRun) -> None:
    requests, hit_samples = run.size(REQUESTS, 500), run.size(HIT_SAMPLES, 500)
    use_case = bench_use_case()
    with mock_aws():
        create_prompts_table(boto3.client("dynamodb"), "bench")
        store = PromptStore(boto3.resource("dynamodb").Table("bench"), use_case.name)
        v1 = use_case.prompts[0]
        store.publish(v1, author="bench")
        store.publish(v1.model_copy(update={"system": (v1.system or "") + "v2"}), author="bench")
        bench = Proof(None, "benchmark: a canary to measure the cache, not a release")
        start_canary(store, v1.prompt_id, version=2, weight=10, alias="live", author="bench", proof=bench)

        counting, now = CountingStore(store), [0.0]
        resolver = PromptResolver(counting, ttl_s=use_case.config.prompts.cache_ttl_seconds, clock=lambda: now[0])
        for i in range(requests):
            now[0] = i * SIMULATED_SECONDS / requests
            resolver.resolve(v1.prompt_id, alias="live", request_id=f"r{i}")
        reads_per_request = counting.reads / requests

        samples = []
        for i in range(hit_samples):
            started = time.perf_counter_ns()
            resolver.resolve(v1.prompt_id, alias="live", request_id=f"h{i}")
            samples.append(time.perf_counter_ns() - started)
    result = {
        "requests": requests,
        "simulated_seconds": SIMULATED_SECONDS,
        "ttl_s": use_case.config.prompts.cache_ttl_seconds,
        "dynamodb_reads": counting.reads,
        "reads_per_request": round(reads_per_request, 5),
        "cache_hit_median_us": round(statistics.median(samples) / 1000, 2),
        "cache_hit_p99_us": round(sorted(samples)[int(len(samples) * 0.99)] / 1000, 2),
    }
    run.write("prompt_cache", result)
    print("prompt cache benchmark (targets: reads/request <= 0.01, cache hit median < 50 us)")
    for key, value in result.items():
        print(f"  {key:<22} {value}")


if __name__ == "__main__":
    main(bench_run(__doc__))
