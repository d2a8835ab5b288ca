"""Benchmark: where the time goes as load and the repo grow (figures, not pass/fail).

1. Warm request: the real handler vs a minimal bare boto3 Converse handler, both against the
   zero-latency simulator over HTTP, DynamoDB on a moto server over HTTP; with and without the
   spend counter (its two DynamoDB calls are real round trips here too).
2. Cold start: fresh-interpreter import of the handler module vs importing Powertools' utilities
   naively (median of runs); and the deployment package size (stacks/function_package.py's zip).
3. cdk synth (cdk-nag on) for 1 and for 5 use cases.
4. Local API throughput at concurrency 1, 8 and 32 (one execution environment, like one Lambda).
Writes reports/bench.json and prints a table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor

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
from liftoff.local.local_api import LambdaContext, proxy_event
from liftoff.usecases import load_use_case
from service.handlers import invoke as handler_module
from service.settings import get_settings

REPORT = REPO_ROOT / "reports" / "bench.json"
WARM_REQUESTS = 200
IMPORT_RUNS = 5
NAIVE_IMPORTS = (
    "import aws_lambda_powertools, aws_lambda_powertools.logging, aws_lambda_powertools.metrics, "
    "aws_lambda_powertools.tracing, aws_lambda_powertools.event_handler, aws_lambda_powertools.utilities.parser, "
    "aws_lambda_powertools.utilities.idempotency, "
    "aws_lambda_powertools.utilities.batch, aws_lambda_powertools.utilities.data_classes, "
    "aws_lambda_powertools.utilities.parameters, aws_lambda_powertools.utilities.feature_flags, boto3"
)


def median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 1)


def warm_requests() -> dict:
    use_case = load_use_case("support-triage")
    # moto's server logs every request through werkzeug (verbose=False does not stop it): figures only here
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    dynamodb_url = f"http://{host}:{port}"
    sim, sim_url = start_simulator(config=SimulatorConfig(profiles=runtime.simulator_profiles(use_case)))
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
        event = proxy_event(
            method="POST",
            path="/v1/invoke",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"prompt_id": "triage", "variables": {"message": "I was charged twice"}}),
            request_id="bench",
            stage="bench",
        )
        bare_client = boto3.client("bedrock-runtime", endpoint_url=sim_url)
        prompt = use_case.prompts[0]

        def bare(evt: dict) -> dict:  # the least a Converse handler can do
            body = json.loads(evt["body"])
            text = prompt.template.replace("{{message}}", body["variables"]["message"])
            reply = bare_client.converse(
                modelId=prompt.model_id,
                messages=[{"role": "user", "content": [{"text": text}]}],
                system=[{"text": prompt.system}],
                inferenceConfig={"maxTokens": 200, "temperature": 0.0},
            )
            return {"statusCode": 200, "body": json.dumps({"output": reply["output"]["message"]["content"][0]["text"]})}

        def full(evt: dict) -> dict:
            return handler_module.lambda_handler(evt, LambdaContext())

        class NoSpend:
            def spent_today_usd(self) -> float:
                return 0.0

            def add(self, _cost: float) -> None:
                return None

        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):  # noqa: PTH123
            handler_module.logger.registered_handler.stream = devnull
            deps = handler_module.get_deps()
            no_spend = deps.__class__(deps.settings, deps.resolver, deps.model, NoSpend())
            configs = {
                "bare boto3 Converse": bare,
                "handler, spend counter off": lambda e: _with_deps(no_spend, full, e),
                "handler (full)": full,
            }
            samples: dict[str, list[float]] = {k: [] for k in configs}
            for round_no in range(5):
                for name, fn in configs.items():
                    for _ in range(WARM_REQUESTS // 4):
                        started = time.perf_counter()
                        result = fn(event)
                        took = time.perf_counter() - started
                        assert result["statusCode"] == 200, result
                        if round_no:
                            samples[name].append(took)
    finally:
        sim.shutdown()
        moto.stop()
    medians = {k: median_us(v) for k, v in samples.items()}
    base = medians["bare boto3 Converse"]
    return {"median_us": medians, "ratio_to_bare": {k: round(v / base, 2) for k, v in medians.items()}}


def _with_deps(deps, fn, event):
    original = handler_module.get_deps
    handler_module.get_deps = lambda: deps
    try:
        return fn(event)
    finally:
        handler_module.get_deps = original


def import_time(statement: str) -> float:
    runs = []
    for _ in range(IMPORT_RUNS):
        started = time.perf_counter()
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", statement],
            check=True,
            cwd=REPO_ROOT / "lambdas",
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "lambdas")},
        )
        runs.append(time.perf_counter() - started)
    return round(statistics.median(runs) * 1000, 1)


def cold_start() -> dict:
    ours = import_time("import service.handlers.invoke")
    naive = import_time(NAIVE_IMPORTS)
    empty = import_time("pass")
    from stacks.function_package import function_package

    package = function_package()  # what CDK uploads: service/ and the pinned libraries, zipped
    with zipfile.ZipFile(package) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return {
        "import_ms_handler": ours,
        "import_ms_naive_powertools": naive,
        "interpreter_start_ms": empty,
        "handler_vs_naive": round((ours - empty) / (naive - empty), 2),
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
    state = runtime.up("support-triage")
    headers = {"x-api-key": state.api_key, "Content-Type": "application/json"}
    body = {"prompt_id": "triage", "variables": {"message": "my parcel is late"}}
    out = {}
    for concurrency in (1, 8, 32):
        total = 120
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            statuses = list(
                pool.map(
                    lambda _i: requests.post(state.invoke_url, json=body, headers=headers, timeout=60).status_code,
                    range(total),
                )
            )
        took = time.perf_counter() - started
        assert set(statuses) == {200}, statuses
        out[f"rps_concurrency_{concurrency}"] = round(total / took, 1)
    return out


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    result = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"}
    result["warm"] = warm_requests()
    result["cold_start"] = cold_start()
    result["synth"] = synth_times()
    result["local_api"] = local_throughput()
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2))
    print(f"scale benchmarks on {result['machine']}")
    for name, value in result["warm"]["median_us"].items():
        print(f"  warm request, {name:<28} {value:>9} us  x{result['warm']['ratio_to_bare'][name]}")
    cold = result["cold_start"]
    print(
        f"  cold import: handler {cold['import_ms_handler']} ms, naive Powertools {cold['import_ms_naive_powertools']} ms, "
        f"interpreter {cold['interpreter_start_ms']} ms -> handler/naive {cold['handler_vs_naive']} (net of interpreter)"
    )
    print(
        f"  deployment package (service + pinned libraries): {cold['package_kb']} KB zipped, "
        f"{cold['package_unzipped_kb']} KB unzipped (Lambda's limit: 250 MB unzipped)"
    )
    for name, value in {**result["synth"], **result["local_api"]}.items():
        print(f"  {name:<32} {value}")
    print(f"-> {REPORT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    try:
        main()
    finally:
        runtime.down("support-triage")
