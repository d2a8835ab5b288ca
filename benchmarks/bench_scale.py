"""Benchmark: where the time goes as load and the repo grow (figures, not pass/fail).

1. Warm request: the real handler vs a bare boto3 handler sending the same Converse request, both
   against the zero-latency simulator over HTTP; the handler with its spend counter in this process
   (its own cost) and with DynamoDB on a moto server over HTTP (real round trips; the DynamoDB calls
   per request are counted with botocore's event hooks).
2. Cold start: fresh-interpreter import of the handler module vs importing Powertools' utilities
   naively (median of runs); and the deployment package size (stacks/function_package.py's zip).
3. cdk synth (cdk-nag on) for 1 and for 5 use cases.
4. Local API throughput at concurrency 1, 8 and 32 (zero model latency), and `liftoff load` at 1, 10
   and 50 users with 200 ms of model latency: percentiles, cold starts and throttles of local mode's
   pool of execution environments.
Writes reports/bench.json and prints a table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import boto3
import requests
from moto.server import ThreadedMotoServer

from liftoff import REPO_ROOT
from liftoff.local import runtime
from liftoff.local.bedrock_simulator import SimulatorConfig, start_simulator
from liftoff.local.environments import LambdaContext
from liftoff.local.local_api import invoke_event
from liftoff.usecases import load_use_case
from service.dal.spend_counter import SpendCounter
from service.handlers import invoke as handler_module
from service.settings import get_settings

REPORT = REPO_ROOT / "reports" / "bench.json"
WARM_REQUESTS = 400
WARM_UP = 40
IMPORT_RUNS = 11
NAIVE_IMPORTS = (
    "import aws_lambda_powertools, aws_lambda_powertools.logging, aws_lambda_powertools.metrics, "
    "aws_lambda_powertools.tracing, aws_lambda_powertools.event_handler, aws_lambda_powertools.utilities.parser, "
    "aws_lambda_powertools.utilities.idempotency, "
    "aws_lambda_powertools.utilities.batch, aws_lambda_powertools.utilities.data_classes, "
    "aws_lambda_powertools.utilities.parameters, aws_lambda_powertools.utilities.feature_flags, boto3"
)


def median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 1)


class MemoryTable:
    """The spend table in this process (an atomic counter in a dict): the handler's own cost, without a
    network round trip to moto."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def get_item(self, **_kwargs) -> dict:
        return {"Item": {"spend_usd": self.total}}

    def update_item(self, ExpressionAttributeValues, **_kwargs) -> dict:
        self.total += ExpressionAttributeValues[":cost"]
        return {"Attributes": {"spend_usd": self.total}}


def _simulator_process(profiles: dict, urls) -> None:
    _server, url = start_simulator(config=SimulatorConfig(profiles=profiles))
    urls.put(url)
    threading.Event().wait()  # serve until terminated


@contextlib.contextmanager
def simulator_in_another_process(use_case):
    """The simulator in its own process, as in local mode and as Bedrock is: in this one, its server
    thread would compete with the handler for the GIL and bill the handler for the simulator's work."""
    context = multiprocessing.get_context("spawn")
    urls = context.Queue()
    process = context.Process(target=_simulator_process, args=(runtime.simulator_profiles(use_case), urls), daemon=True)
    process.start()
    try:
        yield urls.get(timeout=60)
    finally:
        process.terminate()
        process.join()


def warm_requests() -> dict:
    use_case = load_use_case("support-triage")
    # moto's server logs every request through werkzeug (verbose=False does not stop it): figures only here
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    dynamodb_url = f"http://{host}:{port}"
    simulator = simulator_in_another_process(use_case)
    sim_url = simulator.__enter__()
    try:
        os.environ.update(
            runtime.handler_environment(
                use_case,
                table="b-prompts",
                spend_table="b-spend",
                dynamodb_url=dynamodb_url,
                bedrock_url=sim_url,
                idempotency_table="",
            )
        )
        os.environ.pop("LIFTOFF_GUARDRAIL_ID", None)  # no guardrail locally in either handler
        runtime.provision(use_case, table="b-prompts", spend_table="b-spend", dynamodb_url=dynamodb_url)
        get_settings.cache_clear()
        handler_module.get_deps.cache_clear()
        event = invoke_event(
            {"prompt_id": "triage", "variables": {"message": "I was charged twice"}}, request_id="bench", stage="bench"
        )
        bare_client = boto3.client("bedrock-runtime", endpoint_url=sim_url)

        def full(evt: dict) -> dict:
            return handler_module.lambda_handler(evt, LambdaContext())

        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):  # noqa: PTH123
            handler_module.logger.registered_handler.stream = devnull
            deps = handler_module.get_deps()
            # the bare handler sends exactly the Converse request the handler sends (same profile ARN,
            # system prompt, tool schema): the ratio is the template's overhead, not a smaller request
            request = _converse_request(deps, full, event)

            def bare(evt: dict) -> dict:  # the least a handler can do for the same model call
                json.loads(evt["body"])
                reply = bare_client.converse(**request)
                return {"statusCode": 200, "body": json.dumps({"output": reply["output"]["message"]["content"]})}

            in_process = deps.__class__(
                deps.settings, deps.resolver, deps.model, SpendCounter(MemoryTable(), use_case.name)
            )
            configs = {
                "bare boto3 Converse": bare,
                "handler, spend counter in-process": lambda e: _with_deps(in_process, full, e),
                "handler (full)": full,
            }
            calls = DynamoCalls(deps)
            samples: dict[str, list[float]] = {k: [] for k in configs}
            # interleaved, one request of each in turn: a drift of the machine's speed hits all alike
            for request_no in range(WARM_REQUESTS + WARM_UP):
                for name, fn in configs.items():
                    started = time.perf_counter()
                    result = fn(event)
                    took = time.perf_counter() - started
                    assert result["statusCode"] == 200, result
                    if request_no >= WARM_UP:
                        samples[name].append(took)
                    if name == "handler (full)":
                        calls.requests += 1
    finally:
        simulator.__exit__(None, None, None)
        moto.stop()
    medians = {k: median_us(v) for k, v in samples.items()}
    base = medians["bare boto3 Converse"]
    return {
        "median_us": medians,
        "ratio_to_bare": {k: round(v / base, 2) for k, v in medians.items()},
        "dynamodb_calls_per_request": calls.per_request(),
    }


class DynamoCalls:
    """DynamoDB API calls the handler makes, counted with botocore's event hooks."""

    def __init__(self, deps) -> None:
        self.calls: dict[str, int] = {}
        self.requests = 0
        deps.spend._table.meta.client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model, **_kwargs) -> None:
        if self.requests:  # after the first request: the steady state, not the cold environment's reads
            self.calls[model.name] = self.calls.get(model.name, 0) + 1

    def per_request(self) -> dict:
        counted = max(self.requests - 1, 1)
        return {
            "total": round(sum(self.calls.values()) / counted, 3),
            **{name: round(count / counted, 3) for name, count in sorted(self.calls.items())},
        }


def _converse_request(deps, full, event) -> dict:
    """The Converse request the handler sends for `event`, recorded from one call."""
    client = deps.model._client
    recorded: dict = {}
    original = client.converse

    def record(**request):
        recorded.update(request)
        return original(**request)

    client.converse = record
    try:
        full(event)
    finally:
        client.converse = original
    return recorded


def _with_deps(deps, fn, event):
    original = handler_module.get_deps
    handler_module.get_deps = lambda: deps
    try:
        return fn(event)
    finally:
        handler_module.get_deps = original


MEMORY_REQUESTS = 300
RSS_PROBE = """
import json, resource, sys
event = json.load(sys.stdin)
from service.handlers.invoke import lambda_handler
class Context:
    function_name = "bench"; function_version = "$LATEST"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"; aws_request_id = "bench"
    def get_remaining_time_in_millis(self): return 29000
for i in range(int(sys.argv[1])):
    event["requestContext"]["requestId"] = f"rss-{i}"
    assert lambda_handler(event, Context())["statusCode"] == 200
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def peak_memory() -> dict:
    """The handler's peak RSS in a fresh interpreter over a cold and MEMORY_REQUESTS - 1 warm requests
    (Linux reports ru_maxrss in KB); the size stacks/memory.py chooses from it; written to
    benchmarks/memory.json, which the stack reads."""
    from stacks.memory import MEASURED, memory_for

    use_case = load_use_case("support-triage")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    dynamodb_url = f"http://{host}:{port}"
    sim, sim_url = start_simulator(config=SimulatorConfig(profiles=runtime.simulator_profiles(use_case)))
    try:
        env = runtime.handler_environment(
            use_case, table="m-prompts", spend_table="m-spend", dynamodb_url=dynamodb_url, bedrock_url=sim_url
        )
        env.pop("LIFTOFF_GUARDRAIL_ID", None)
        runtime.provision(use_case, table="m-prompts", spend_table="m-spend", dynamodb_url=dynamodb_url)
        event = invoke_event(
            {"prompt_id": "triage", "variables": {"message": "I was charged twice"}}, request_id="rss", stage="bench"
        )
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-c", RSS_PROBE, str(MEMORY_REQUESTS)],
            input=json.dumps(event),
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO_ROOT / "lambdas",
            env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT / "lambdas")},
        )
    finally:
        sim.shutdown()
        moto.stop()
    peak_mb = round(int(done.stderr.strip().splitlines()[-1]) / 1024, 1)
    MEASURED.write_text(
        json.dumps(
            {
                "peak_rss_mb": peak_mb,
                "requests": MEMORY_REQUESTS,
                "python": sys.version.split()[0],
                "measured_by": "make bench (benchmarks/bench_scale.py::peak_memory)",
            },
            indent=2,
        )
        + "\n"
    )
    return {"peak_rss_mb": peak_mb, "requests": MEMORY_REQUESTS, "memory_mb": memory_for(peak_mb)}


def import_times(statements: dict[str, str]) -> dict[str, float]:
    """Median time a fresh interpreter takes to run each statement, measured inside it (what Lambda's
    init phase waits for: not the interpreter's start, nor its teardown, which Lambda never waits
    for), IMPORT_RUNS times, interleaved (one of each in turn) so a drift of the machine's speed hits
    all alike."""
    runs: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(IMPORT_RUNS):
        for name, statement in statements.items():
            probe = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
            done = subprocess.run(  # noqa: S603
                [sys.executable, "-c", probe],
                check=True,
                capture_output=True,
                text=True,
                cwd=REPO_ROOT / "lambdas",
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "lambdas")},
            )
            runs[name].append(float(done.stdout.strip().splitlines()[-1]))
    return {name: round(statistics.median(times) * 1000, 1) for name, times in runs.items()}


def cold_start() -> dict:
    times = import_times({"ours": "import service.handlers.invoke", "naive": NAIVE_IMPORTS})
    ours, naive = times["ours"], times["naive"]
    from stacks.function_package import function_package

    package = function_package()  # what CDK uploads: service/ and the pinned libraries, zipped
    with zipfile.ZipFile(package) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return {
        "import_ms_handler": ours,
        "import_ms_naive_powertools": naive,
        "handler_vs_naive": round(ours / naive, 2),
        "package_kb": round(package.stat().st_size / 1024, 1),
        "package_unzipped_kb": round(unzipped / 1024, 1),
    }


def synth_times() -> dict:
    import aws_cdk as cdk

    from liftoff.config import get_stage
    from stacks.nag import add_nag_checks
    from stacks.usecase_stack import UseCaseStack

    base = load_use_case("support-triage")
    out = {}
    for count in (1, 1, 5):  # the first run warms up jsii and is not kept
        started = time.perf_counter()
        app = cdk.App(outdir=str(REPO_ROOT / "cdk.out" / f"bench-{count}"))
        for i in range(count):
            config = base.config.model_copy(update={"name": f"bench-case-{i}"})
            UseCaseStack(
                app,
                f"Bench-{i}",
                use_case=base.__class__(config=config, prompts=base.prompts, prices=base.prices),
                stage=get_stage("prod"),
                env=cdk.Environment(account="111111111111", region="us-east-1"),
            )
        add_nag_checks(app)
        app.synth()
        out[f"synth_s_{count}_use_cases"] = round(time.perf_counter() - started, 2)
    return out


def local_throughput() -> dict:
    """Requests per second through the local API at concurrency 1, 8 and 32 with a zero-latency model,
    after one round that starts the pool's environments (their cold starts are local_load's figure)."""
    runtime.down("support-triage")
    state = runtime.up("support-triage")
    headers = {"x-api-key": state.api_key, "Content-Type": "application/json"}
    body = {"prompt_id": "triage", "variables": {"message": "my parcel is late"}}

    def post(_i: int) -> int:
        return requests.post(state.invoke_url, json=body, headers=headers, timeout=60).status_code

    out = {}
    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            list(pool.map(post, range(20)))  # warm the environments
        for concurrency in (1, 8, 32):
            total = 120
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                statuses = list(pool.map(post, range(total)))
            took = time.perf_counter() - started
            assert set(statuses) <= {200, 429}, statuses
            out[f"rps_concurrency_{concurrency}"] = round(statuses.count(200) / took, 1)
            out[f"throttled_concurrency_{concurrency}"] = statuses.count(429)
    finally:
        runtime.down("support-triage")
    return out


LOAD_USERS = (1, 10, 50)
LOAD_SECONDS = 15
LOAD_LATENCY_MS = 200


def local_load() -> dict:
    """`liftoff load` against local mode with LOAD_LATENCY_MS of simulated model latency, at 1, 10 and 50
    users: latency percentiles, cold starts and throttles of the pool of execution environments."""
    out = {}
    for users in LOAD_USERS:
        done = subprocess.run(  # noqa: S603 - our own CLI
            [
                str(Path(sys.executable).parent / "liftoff"),
                "load",
                "--users",
                str(users),
                "--duration",
                str(LOAD_SECONDS),
                "--sim-latency-ms",
                str(LOAD_LATENCY_MS),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO_ROOT,
        )
        summary = json.loads(done.stdout)
        out[f"users_{users}"] = {
            key: summary[key]
            for key in (
                *("requests", "rps", "p50_ms", "p95_ms", "p99_ms", "error_rate"),
                *("cold_starts", "cold_start_median_ms", "throttles", "environments", "max_environments"),
            )
        }
    return {"simulated_latency_ms": LOAD_LATENCY_MS, "seconds": LOAD_SECONDS, **out}


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    result = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"}
    result["warm"] = warm_requests()
    result["cold_start"] = cold_start()
    result["memory"] = peak_memory()
    result["synth"] = synth_times()
    result["local_api"] = local_throughput()
    result["local_load"] = local_load()
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2))
    print(f"scale benchmarks on {result['machine']}")
    for name, value in result["warm"]["median_us"].items():
        print(f"  warm request, {name:<34} {value:>9} us  x{result['warm']['ratio_to_bare'][name]}")
    print(f"  DynamoDB calls per request (steady state, full handler): {result['warm']['dynamodb_calls_per_request']}")
    memory = result["memory"]
    print(
        f"  peak RSS of the handler over {memory['requests']} requests: {memory['peak_rss_mb']} MB -> "
        f"memory {memory['memory_mb']} MB (benchmarks/memory.json)"
    )
    cold = result["cold_start"]
    print(
        f"  cold import (measured inside a fresh interpreter): handler {cold['import_ms_handler']} ms, "
        f"naive Powertools {cold['import_ms_naive_powertools']} ms -> handler/naive {cold['handler_vs_naive']}"
    )
    print(
        f"  deployment package (service + pinned libraries): {cold['package_kb']} KB zipped, "
        f"{cold['package_unzipped_kb']} KB unzipped (Lambda's limit: 250 MB unzipped)"
    )
    for name, value in {**result["synth"], **result["local_api"]}.items():
        print(f"  {name:<32} {value}")
    load = result["local_load"]
    for users in LOAD_USERS:
        row = load[f"users_{users}"]
        print(
            f"  liftoff load, {users:>2} users, {load['simulated_latency_ms']} ms model: p50/p95/p99 "
            f"{row['p50_ms']:.0f}/{row['p95_ms']:.0f}/{row['p99_ms']:.0f} ms, {row['rps']:.1f} req/s, "
            f"{row['cold_starts']} cold starts (median {row['cold_start_median_ms']:.0f} ms), "
            f"{row['throttles']} throttled ({row['environments']} of {row['max_environments']} environments)"
        )
    print(f"-> {REPORT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    try:
        main()
    finally:
        runtime.down("support-triage")
