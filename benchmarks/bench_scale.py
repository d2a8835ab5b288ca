"""Benchmark: where the time goes as load and the repo grow (figures, not pass/fail).

1. Warm request: the real handler vs a bare boto3 handler sending the same Converse request, both
   against the zero-latency simulator over HTTP; the handler with its spend counter in this process
   (its own cost) and with DynamoDB on a moto server over HTTP (real round trips; the DynamoDB calls
   per request are counted with botocore's event hooks).
2. Cold start as Lambda runs it: the deployment package unpacked read-only (benchmarks/lambda_layout.py),
   a fresh interpreter per run, interleaved: the package without bytecode (as it shipped before it had
   any), as shipped, and Powertools imported naively from the same package; for the first two, the
   phases of "cold start to first answer" (import, settings, clients, the feedback key, the first
   request against the simulator, DynamoDB on moto). And the package's size.
3. Peak RSS of the handler, from the package as shipped, over a cold and many warm requests.
4. cdk synth (cdk-nag on) for 1 and for 5 use cases.
5. Local API throughput at concurrency 1, 8 and 32 (zero model latency), and `liftoff load` at 1, 10
   and 50 users with 200 ms of model latency: percentiles, cold starts and throttles of local mode's
   pool of execution environments.
Writes its sections of reports/bench.json and prints a table.
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

from benchmarks.lambda_layout import file_count, remove, run_probe, unpack
from benchmarks.report import USE_CASE, BenchRun, bench_run, bench_use_case
from liftoff import REPO_ROOT
from liftoff.foundation.usecases import load_use_case
from liftoff.local import runtime
from liftoff.local.bedrock_simulator import SimulatorConfig, start_simulator
from liftoff.local.environments import LambdaContext
from liftoff.local.local_api import invoke_event
from liftoff.local.moto_server import serving
from service.dal.spend_counter import SpendCounter
from service.handlers import invoke as handler_module
from service.settings import get_settings

WARM_REQUESTS = 400
WARM_UP = 40
COLD_RUNS = 11
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


@contextlib.contextmanager
def moto_server():
    """Local mode's moto server (one request at a time, as local mode runs it: the requests here are
    sequential, so that costs them nothing), its state wiped when done."""
    # moto's server logs every request through werkzeug: figures only here
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with serving() as url:
        yield url


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


def warm_requests(run: BenchRun, env: dict[str, str]) -> dict:
    use_case = bench_use_case()
    warm_up, warm_requests = run.size(WARM_UP, 2), run.size(WARM_REQUESTS, 10)
    sim_url = env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"]
    os.environ.update(env)
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
        for request_no in range(warm_requests + warm_up):
            for name, fn in configs.items():
                started = time.perf_counter()
                result = fn(event)
                took = time.perf_counter() - started
                assert result["statusCode"] == 200, result
                if request_no >= warm_up:
                    samples[name].append(took)
                if name == "handler (full)":
                    calls.requests += 1
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
        # every DynamoDB client the handler holds: the registry's and counter's reads share one, the ADD has its own
        clients = {id(t.meta.client): t.meta.client for t in (deps.spend._table, deps.spend._add_table)}
        for client in clients.values():
            client.meta.events.register("before-call.dynamodb", self._count)

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
CONTEXT = """
class Context:
    function_name = "bench"; function_version = "$LATEST"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"; aws_request_id = "bench"
    def get_remaining_time_in_millis(self): return 29000
"""
RSS_PROBE = f"""
import json, resource, sys
event = json.loads(sys.argv[2])
from service.handlers.invoke import lambda_handler
{CONTEXT}
for i in range(int(sys.argv[1])):
    event["requestContext"]["requestId"] = f"rss-{{i}}"
    assert lambda_handler(event, Context())["statusCode"] == 200
print("BENCH", json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""
# Cold start to first answer, in phases: what Lambda's init does (import), then what the first request
# does before it can answer (settings, clients, the feedback key), then that request.
FIRST_ANSWER_PROBE = f"""
import json, sys, time
marks = [time.perf_counter()]
from service.handlers import invoke as handler
marks.append(time.perf_counter())
from service.settings import get_settings
settings = get_settings()
marks.append(time.perf_counter())
handler.get_deps()
marks.append(time.perf_counter())
from service.dal.feedback_key import feedback_key
feedback_key(settings.feedback_secret)
marks.append(time.perf_counter())
{CONTEXT}
result = handler.lambda_handler(json.loads(sys.argv[1]), Context())
marks.append(time.perf_counter())
assert result["statusCode"] == 200, result
import pydantic_core
assert handler.__file__.startswith(sys.argv[2]) and pydantic_core.__file__.startswith(sys.argv[2])
phases = ("import", "settings", "clients", "feedback_key", "first_request")
print("BENCH", json.dumps(dict(zip(phases, (b - a for a, b in zip(marks, marks[1:]))))))
"""
NAIVE_PROBE = f"""
import json, sys, time
started = time.perf_counter()
{NAIVE_IMPORTS}
took = time.perf_counter() - started
import aws_lambda_powertools
assert aws_lambda_powertools.__file__.startswith(sys.argv[1])
print("BENCH", json.dumps({{"import": took}}))
"""


@contextlib.contextmanager
def local_services(use_case, prefix: str):
    """moto and the simulator for `use_case`, provisioned as a first deploy would; yields the handler's
    environment, pointed at them (no guardrail: the simulator here plays none)."""
    with moto_server() as dynamodb_url, simulator_in_another_process(use_case) as sim_url:
        tables = {"table": f"{prefix}-prompts", "spend_table": f"{prefix}-spend"}
        env = runtime.handler_environment(use_case, **tables, dynamodb_url=dynamodb_url, bedrock_url=sim_url)
        env.pop("LIFTOFF_GUARDRAIL_ID", None)
        runtime.provision(use_case, **tables, dynamodb_url=dynamodb_url)
        yield env


@contextlib.contextmanager
def unpacked(*, bytecode: bool):
    """The deployment package unpacked read-only, as in /var/task; yields (root, substituted extensions)
    and checks on the way out that nothing was written into it."""
    from stacks.function_package import BUILD_DIR, function_package

    root = BUILD_DIR / f"task-{'bytecode' if bytecode else 'source'}-{os.getpid()}"
    remove(root)
    try:
        substituted = unpack(function_package(), root, bytecode=bytecode)
        files = file_count(root)
        yield root, substituted
        assert file_count(root) == files, f"the probe wrote into {root}: not what Lambda's read-only /var/task allows"
    finally:
        remove(root)


def peak_memory(run: BenchRun, env: dict[str, str], shipped: Path) -> dict:
    """The handler's peak RSS, loaded from the package as shipped, in a fresh interpreter over a cold and
    MEMORY_REQUESTS - 1 warm requests (Linux reports ru_maxrss in KB); the size liftoff/foundation/memory.py chooses
    from it. The full run writes it to benchmarks/memory.json, which the stack reads."""
    from liftoff.foundation.memory import MEASURED, memory_for

    requests_ = run.size(MEMORY_REQUESTS, 5)
    event = invoke_event(
        {"prompt_id": "triage", "variables": {"message": "I was charged twice"}}, request_id="rss", stage="bench"
    )
    peak_kb = run_probe(shipped, RSS_PROBE, env, str(requests_), json.dumps(event))
    peak_mb = round(peak_kb / 1024, 1)
    measured = {
        "peak_rss_mb": peak_mb,
        "requests": requests_,
        "python": sys.version.split()[0],
        "measured_by": "make bench (benchmarks/bench_scale.py::peak_memory, the package as shipped)",
    }
    if not run.quick:  # a quick run's figure is not a measurement: the stack keeps the last real one
        MEASURED.write_text(json.dumps(measured, indent=2) + "\n")
    return {"peak_rss_mb": peak_mb, "requests": requests_, "memory_mb": memory_for(peak_mb)}


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def cold_start(run: BenchRun, env: dict[str, str], roots: dict[str, Path], substituted: list[str]) -> dict:
    """Cold start as Lambda runs it, COLD_RUNS fresh interpreters of each configuration, interleaved
    (one of each in turn) so a drift of the machine's speed hits all alike."""
    from stacks.function_package import function_package

    event = invoke_event(
        {"prompt_id": "triage", "variables": {"message": "I was charged twice"}}, request_id="cold", stage="bench"
    )
    phases: dict[str, list[dict]] = {name: [] for name in roots}
    naive: list[float] = []
    for _ in range(run.size(COLD_RUNS, 1)):
        for name, root in roots.items():
            phases[name].append(run_probe(root, FIRST_ANSWER_PROBE, env, json.dumps(event), str(root)))
        naive.append(run_probe(roots["as shipped"], NAIVE_PROBE, env, str(roots["as shipped"]))["import"])
    figures = {
        name: {
            **{f"{phase}_ms": _median_ms([r[phase] for r in runs]) for phase in runs[0]},
            "first_answer_ms": _median_ms([sum(r.values()) for r in runs]),
        }
        for name, runs in phases.items()
    }
    shipped, source = figures["as shipped"], figures["no bytecode"]
    naive_ms = _median_ms(naive)
    package = function_package()  # what CDK uploads: service/ and the pinned libraries, zipped
    with zipfile.ZipFile(package) as archive:
        infos = archive.infolist()
    return {
        "runs": len(naive),
        "import_ms_no_bytecode": source["import_ms"],
        "import_ms_as_shipped": shipped["import_ms"],
        "import_ms_naive_powertools": naive_ms,
        "shipped_vs_no_bytecode": round(shipped["import_ms"] / source["import_ms"], 2),
        "shipped_vs_naive_powertools": round(shipped["import_ms"] / naive_ms, 2),
        "first_answer": figures,
        "host_extensions": substituted,
        "package_kb": round(package.stat().st_size / 1024, 1),
        "package_unzipped_kb": round(sum(i.file_size for i in infos) / 1024, 1),
        "bytecode_unzipped_kb": round(sum(i.file_size for i in infos if i.filename.endswith(".pyc")) / 1024, 1),
    }


def synth_times(run: BenchRun) -> dict:
    import shutil
    import tempfile

    import aws_cdk as cdk

    from liftoff.foundation.config import get_stage
    from stacks.nag import add_nag_checks
    from stacks.usecase_stack import UseCaseStack

    base = bench_use_case()
    out = {}
    counts = (1, 1, 5) if not run.quick else (1,)  # the first run warms up jsii and is not kept
    with tempfile.TemporaryDirectory() as scratch:
        # a scratch project of copies of the triage use case: config, prompts and eval set (the golden canary
        # reads the suite.yaml of each), as `liftoff new-use-case` would leave them
        root = Path(scratch)
        config_text = (base.root / "usecases" / f"{base.name}.yaml").read_text()
        use_cases = []
        for i in range(max(counts)):
            name = f"bench-case-{i}"
            (root / "usecases").mkdir(exist_ok=True)
            (root / "usecases" / f"{name}.yaml").write_text(
                config_text.replace(f"name: {base.name}\n", f"name: {name}\n", 1)
            )
            for folder in ("prompts", "evals"):
                shutil.copytree(base.root / folder / base.name, root / folder / name)
            use_cases.append(load_use_case(name, root))
        for count in counts:
            started = time.perf_counter()
            app = cdk.App(outdir=str(root / "cdk.out" / f"bench-{count}"))
            for i, use_case in enumerate(use_cases[:count]):
                UseCaseStack(
                    app,
                    f"Bench-{i}",
                    use_case=use_case,
                    stage=get_stage("prod"),
                    env=cdk.Environment(account="111111111111", region="us-east-1"),
                )
            add_nag_checks(app)
            app.synth()
            out[f"synth_s_{count}_use_cases"] = round(time.perf_counter() - started, 2)
    return out


CONCURRENCY = (1, 8, 32)


def local_throughput(run: BenchRun) -> dict:
    """Requests per second through the local API at concurrency 1, 8 and 32 with a zero-latency model,
    after one round that starts the pool's environments (their cold starts are local_load's figure)."""
    runtime.down(USE_CASE)
    state = runtime.up(USE_CASE)
    headers = {"x-api-key": state.api_key, "Content-Type": "application/json"}
    body = {"prompt_id": "triage", "variables": {"message": "my parcel is late"}}

    def post(_i: int) -> int:
        return requests.post(state.invoke_url, json=body, headers=headers, timeout=60).status_code

    out = {}
    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            list(pool.map(post, range(run.size(20, 1))))  # warm the environments
        for concurrency in CONCURRENCY:
            total = run.size(120, 1)
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                statuses = list(pool.map(post, range(total)))
            took = time.perf_counter() - started
            assert set(statuses) <= {200, 429}, statuses
            out[f"rps_concurrency_{concurrency}"] = round(statuses.count(200) / took, 1)
            out[f"throttled_concurrency_{concurrency}"] = statuses.count(429)
    finally:
        runtime.down(USE_CASE)
    return out


LOAD_USERS = (1, 10, 50)
LOAD_SECONDS = 15
LOAD_LATENCY_MS = 200


def local_load(run: BenchRun) -> dict:
    """`liftoff load` against local mode with LOAD_LATENCY_MS of simulated model latency, at 1, 10 and 50
    users: latency percentiles, cold starts and throttles of the pool of execution environments."""
    seconds = run.size(LOAD_SECONDS, 5)  # liftoff load's shortest run
    out = {}
    for users in LOAD_USERS if not run.quick else LOAD_USERS[:1]:
        done = subprocess.run(  # noqa: S603 - our own CLI
            [
                str(Path(sys.executable).parent / "liftoff"),
                "load",
                "--use-case",
                USE_CASE,
                "--users",
                str(users),
                "--duration",
                str(seconds),
                "--sim-latency-ms",
                str(LOAD_LATENCY_MS),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO_ROOT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"liftoff load --users {users} failed: {done.stderr.strip()[-2000:]}")
        summary = json.loads(done.stdout)
        out[f"users_{users}"] = {
            key: summary[key]
            for key in (
                *("requests", "rps", "p50_ms", "p95_ms", "p99_ms", "error_rate"),
                *("cold_starts", "cold_start_median_ms", "throttles", "environments", "max_environments"),
            )
        }
    return {"simulated_latency_ms": LOAD_LATENCY_MS, "seconds": seconds, **out}


def main(run: BenchRun) -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    result = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"}
    run.write("machine", result["machine"])

    def section(name: str, measure, *args) -> None:
        started = time.perf_counter()
        result[name] = measure(run, *args)
        run.write(name, result[name])
        print(f"  ({name}: {time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    # one moto, one simulator and the package unpacked once for the three sections that need them
    with (
        local_services(bench_use_case(), "b") as env,
        unpacked(bytecode=False) as (source, substituted),
        unpacked(bytecode=True) as (shipped, _),
    ):
        section("warm", warm_requests, env)
        section("cold_start", cold_start, env, {"no bytecode": source, "as shipped": shipped}, substituted)
        section("memory", peak_memory, env, shipped)
    section("synth", synth_times)
    section("local_api", local_throughput)
    section("local_load", local_load)
    print(f"scale benchmarks on {result['machine']}{' (quick mode: not measurements)' if run.quick else ''}")
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
        f"  cold import as Lambda loads the package (median of {cold['runs']}): no bytecode "
        f"{cold['import_ms_no_bytecode']} ms, as shipped {cold['import_ms_as_shipped']} ms, naive Powertools "
        f"{cold['import_ms_naive_powertools']} ms -> x{cold['shipped_vs_no_bytecode']} of no bytecode, "
        f"x{cold['shipped_vs_naive_powertools']} of naive"
    )
    for name, phases in cold["first_answer"].items():
        detail = ", ".join(f"{k[:-3]} {v}" for k, v in phases.items() if k != "first_answer_ms")
        print(f"  cold start to first answer, {name:<12} {phases['first_answer_ms']} ms ({detail})")
    if cold["host_extensions"]:
        print(f"  (native extensions replaced by this machine's build of the same pins: {cold['host_extensions']})")
    print(
        f"  deployment package (service + pinned libraries): {cold['package_kb']} KB zipped, "
        f"{cold['package_unzipped_kb']} KB unzipped, of which bytecode {cold['bytecode_unzipped_kb']} KB "
        f"(Lambda's limits: 50 MB zipped for a direct upload, 250 MB unzipped)"
    )
    for name, value in {**result["synth"], **result["local_api"]}.items():
        print(f"  {name:<32} {value}")
    load = result["local_load"]
    for key, row in load.items():
        if key.startswith("users_"):
            print(
                f"  liftoff load, {key[6:]:>2} users, {load['simulated_latency_ms']} ms model: p50/p95/p99 "
                f"{row['p50_ms']:.0f}/{row['p95_ms']:.0f}/{row['p99_ms']:.0f} ms, {row['rps']:.1f} req/s, "
                f"{row['cold_starts']} cold starts (median {row['cold_start_median_ms']:.0f} ms), "
                f"{row['throttles']} throttled ({row['environments']} of {row['max_environments']} environments)"
            )
    print(f"-> {run.report}")


if __name__ == "__main__":
    try:
        main(bench_run(__doc__))
    finally:
        runtime.down(USE_CASE)
