"""`liftoff cost project`: what a use case costs per month at N, 10N and 100N requests a day, and
which limit it meets first.

Model cost comes from measured token counts (the latest eval report's answered cases, or
`--report`), priced at pricing/bedrock.yaml; everything around it from pricing/aws.yaml, with the
use case's own settings (the invoke function's memory, alarms, WAF in prod, metrics). Lambda
duration is the mean latency the eval report measured, when it measured a real model (a deployed
stage or Bedrock); a report against the local simulator, which answers in milliseconds, would
understate the bill, so its duration is the p95 latency criterion instead (the output says which);
`--duration-ms` overrides both.
"""

from __future__ import annotations

import functools
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.table import Table

from liftoff import REPO_ROOT
from liftoff.config import UseCaseConfig, canary_schedule, get_stage, schedule_seconds
from liftoff.errors import ConfigError
from liftoff.function_env import SPEND_READING_MAX_AGE_S
from liftoff.usecases import load_use_case
from stacks.memory import invoke_memory_mb

AWS_PRICES = REPO_ROOT / "pricing" / "aws.yaml"
DAYS = 30
# the standing EMF metrics (one dimension set: UseCase, Stage): 16 of the invoke function, FeedbackGood and
# FeedbackBad, and the golden canary's 4; a prompt canary's 4 CanaryVersion* metrics exist only while it runs
METRIC_NAMES = 22
# stacks/constructs/monitoring.py: LatencyP95, CostPerRequest, InvalidOutputRate, DailySpend, SpendCapHit,
# Api5xxRate, ModelThrottling, FeedbackBadRate, LambdaThrottles, and the canary's CanaryAccuracy,
# CanaryVersionAccuracy, CanaryVersionErrorRate, CanaryVersionLatencyP95
ALARMS = 13
ACCOUNT_CONCURRENCY = 1000  # the default Lambda concurrency quota per Region
WAF_RULES = 3


@dataclass(frozen=True)
class Usage:
    requests: int
    input_tokens: float
    output_tokens: float
    model_cost_usd: float
    log_bytes: float
    source: str
    latency_ms: float = 0.0  # mean end-to-end latency of the answered cases
    simulated: bool = True  # measured against the local Bedrock simulator


def measured_usage(use_case: str, report: Path | None) -> Usage:
    from liftoff.evals.report import latest_report

    path = report or latest_report(use_case)
    if path is None:
        raise click.ClickException(
            f"no eval report for {use_case} to measure tokens from: run `liftoff eval run --use-case {use_case}`"
        )
    results = path.parent / "results.jsonl" if path.name == "report.json" else path / "results.jsonl"
    report_file = results.parent / "report.json"
    simulated = json.loads(report_file.read_text()).get("simulated", True) if report_file.exists() else True
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    answered = [r for r in rows if r.get("ok")]
    if not answered:
        raise click.ClickException(f"{results}: no answered case to measure")
    # one log line and one EMF record per request: about their size in JSON
    sample = {k: answered[0].get(k) for k in ("id", "model_id", "cost_usd", "input_tokens", "output_tokens")}
    log_bytes = 1100 + len(json.dumps(sample))
    return Usage(
        requests=len(answered),
        input_tokens=statistics.fmean(r["input_tokens"] for r in answered),
        output_tokens=statistics.fmean(r["output_tokens"] for r in answered),
        model_cost_usd=statistics.fmean(r["cost_usd"] for r in answered),
        log_bytes=log_bytes,
        source=str(results.relative_to(REPO_ROOT) if results.is_relative_to(REPO_ROOT) else results),
        latency_ms=statistics.fmean(float(r.get("latency_ms") or 0) for r in answered),
        simulated=bool(simulated),
    )


def lambda_duration(config, usage: Usage, override_ms: float | None) -> tuple[float, str]:
    """The invoke function's billed duration per request, and where it comes from."""
    if override_ms:
        return override_ms, "--duration-ms"
    if not usage.simulated and usage.latency_ms:
        return usage.latency_ms, f"mean latency measured by the eval ({usage.source})"
    return float(config.exit_criteria.p95_latency_ms), "the p95 criterion (the eval measured the local simulator)"


def spend_reads_per_request(per_day: int, duration_ms: float) -> float:
    """Share of requests whose environment's spend reading is stale, so the cap check reads the counter:
    requests arrive at rate r spread over about max(1, r x duration) environments; an environment's
    gap between requests exceeds the reading's age with probability exp(-rate per environment x age)."""
    rate = per_day / 86_400
    environments = max(1.0, rate * duration_ms / 1000)
    return math.exp(-rate / environments * SPEND_READING_MAX_AGE_S)


def monthly_costs(use_case: str, stage: str, per_day: int, usage: Usage, duration_ms: float) -> dict[str, float]:
    prices = yaml.safe_load(AWS_PRICES.read_text())
    waf = get_stage(stage).waf
    config = load_use_case(use_case).config
    memory_gb = invoke_memory_mb(config.capacity.memory_mb) / 1024
    reads = spend_reads_per_request(per_day, duration_ms) if per_day else 0.0
    n = per_day * DAYS
    million = n / 1e6
    costs = {
        "Bedrock model": n * usage.model_cost_usd,
        "Lambda requests": million * prices["lambda"]["per_million_requests"],
        "Lambda duration": n * duration_ms / 1000 * memory_gb * prices["lambda"]["per_gb_second_arm64"],
        "API Gateway": million * prices["api_gateway"]["rest_per_million_requests"],
        # per request: the spend counter's UpdateItem (1 WRU), and its consistent GetItem (1 RRU) when the
        # environment's reading is stale (spend_reads_per_request); prompts are cached
        "DynamoDB": million
        * (
            reads * prices["dynamodb"]["per_million_read_request_units"]
            + prices["dynamodb"]["per_million_write_request_units"]
        ),
        "CloudWatch Logs": n * usage.log_bytes / 1e9 * prices["cloudwatch"]["logs_ingestion_per_gb"],
        "CloudWatch metrics, dashboard, alarms": METRIC_NAMES * prices["cloudwatch"]["custom_metric_per_month"]
        + prices["cloudwatch"]["dashboard_per_month"]
        + ALARMS * prices["cloudwatch"]["standard_alarm_per_month"],
        "X-Ray": million * prices["xray"]["sampled_share"] * prices["xray"]["per_million_traces_recorded"],
        "KMS (alarm topic key)": prices["kms"]["key_per_month"],
        "Golden canary (model calls)": canary_runs_per_month(config, stage)
        * golden_size(use_case)
        * usage.model_cost_usd,
        # the feedback key: read once per execution environment, so its calls are a rounding error
        "Secrets Manager (feedback key)": prices["secrets_manager"]["secret_per_month"],
    }
    if waf:
        costs["WAF"] = (
            prices["waf"]["web_acl_per_month"]
            + WAF_RULES * prices["waf"]["rule_per_month"]
            + million * prices["waf"]["per_million_requests"]
        )
    return costs


def canary_runs_per_month(config: UseCaseConfig, stage: str) -> float:
    """How often the golden canary runs in 30 days at its schedule (0 when off)."""
    seconds = schedule_seconds(canary_schedule(config, get_stage(stage)))
    return DAYS * 86_400 / seconds if seconds else 0.0


@functools.cache
def golden_size(use_case: str) -> int:
    """How many golden cases a run has (read once per command: every scale prices the same set)."""
    from liftoff.evals.cases import golden_cases

    return len(golden_cases(use_case))


def idle_cost(use_case: str, stage: str) -> float:
    """What the stack costs with no traffic at all."""
    zero = Usage(0, 0, 0, 0, 0, "")
    return sum(monthly_costs(use_case, stage, 0, zero, 0).values())


def limits(use_case: str, per_day: int, usage: Usage, duration_ms: float, peak_factor: float) -> list[tuple]:
    config = load_use_case(use_case).config
    peak_rps = per_day / 86_400 * peak_factor
    concurrency = peak_rps * duration_ms / 1000
    concurrency_limit = config.capacity.reserved_concurrency or ACCOUNT_CONCURRENCY
    tokens_per_minute = peak_rps * 60 * (usage.input_tokens + usage.output_tokens)
    return [
        (
            "API Gateway throttle (api.throttle_rate_per_s)",
            peak_rps,
            config.api.throttle_rate_per_s,
            "requests/s",
            "raise api.throttle_rate_per_s (and the usage plan follows)",
        ),
        (
            "API daily quota (api.quota_per_day)",
            float(per_day),
            float(config.api.quota_per_day),
            "requests/day",
            "raise api.quota_per_day",
        ),
        (
            "Lambda concurrency" + (" (capacity.reserved_concurrency)" if config.capacity.reserved_concurrency else ""),
            concurrency,
            float(concurrency_limit),
            "executions",
            "raise capacity.reserved_concurrency or the account's Lambda concurrency quota",
        ),
        (
            "Bedrock tokens per minute",
            tokens_per_minute,
            math.nan,
            "tokens/min",
            "compare with your account's on-demand TPM quota for the model (Service Quotas > Amazon Bedrock)",
        ),
    ]


@click.command("project", help="Monthly cost at N, 10N and 100N requests a day, and the first limit met.")
@click.option("--use-case", default="support-triage", show_default=True)
@click.option("--requests-per-day", "per_day", type=click.IntRange(1), required=True)
@click.option("--stage", type=click.Choice(["sandbox", "prod"]), default="prod", show_default=True)
@click.option("--report", type=click.Path(exists=True, path_type=Path), default=None, help="Eval report folder.")
@click.option("--duration-ms", type=float, default=None, help="Lambda duration (default: the p95 criterion).")
@click.option("--peak-factor", type=float, default=3.0, show_default=True, help="Peak rate / average rate.")
@click.option("--json", "as_json", is_flag=True)
def project(use_case, per_day, stage, report, duration_ms, peak_factor, as_json) -> None:  # noqa: PLR0917
    try:
        config = load_use_case(use_case).config
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    usage = measured_usage(use_case, report)
    duration, duration_source = lambda_duration(config, usage, duration_ms)
    scales = {
        f"{per_day:,}/day": per_day,
        f"{10 * per_day:,}/day": 10 * per_day,
        f"{100 * per_day:,}/day": 100 * per_day,
    }
    tables = {label: monthly_costs(use_case, stage, n, usage, duration) for label, n in scales.items()}
    found = {label: limits(use_case, n, usage, duration, peak_factor) for label, n in scales.items()}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "usage": usage.__dict__,
                    "lambda_duration_ms": duration,
                    "lambda_duration_source": duration_source,
                    "lambda_memory_mb": invoke_memory_mb(config.capacity.memory_mb),
                    "per_request_usd": {
                        label: {
                            "model": tables[label]["Bedrock model"] / (n * DAYS),
                            "infrastructure": (sum(tables[label].values()) - tables[label]["Bedrock model"])
                            / (n * DAYS),
                        }
                        for label, n in scales.items()
                    },
                    "monthly_usd": tables,
                    "idle_usd_per_month": idle_cost(use_case, stage),
                    "limits": {k: [list(x) for x in v] for k, v in found.items()},
                },
                indent=2,
                default=str,
            )
        )
        return
    console = Console(width=150)
    console.print(
        f"{use_case} ({stage}): {usage.input_tokens:.0f} in / {usage.output_tokens:.0f} out tokens and "
        f"${usage.model_cost_usd:.6f} of model per request, measured on {usage.requests} answered cases "
        f"({usage.source}); Lambda {invoke_memory_mb(config.capacity.memory_mb)} MB for {duration:.0f} ms "
        f"({duration_source}); prices: pricing/bedrock.yaml, pricing/aws.yaml"
    )
    table = Table(title="monthly cost (USD, 30 days)")
    table.add_column("")
    for label in scales:
        table.add_column(label, justify="right")
    for item in next(iter(tables.values())):
        table.add_row(item, *[f"{tables[label][item]:,.2f}" for label in scales])
    table.add_row("[bold]total[/]", *[f"[bold]{sum(tables[label].values()):,.2f}[/]" for label in scales])
    table.add_row("per request", *[f"{sum(tables[lbl].values()) / (n * DAYS):.6f}" for lbl, n in scales.items()])
    table.add_row(
        "  of which model", *[f"{tables[lbl]['Bedrock model'] / (n * DAYS):.6f}" for lbl, n in scales.items()]
    )
    table.add_row(
        "  of which infrastructure",
        *[
            f"{(sum(tables[lbl].values()) - tables[lbl]['Bedrock model']) / (n * DAYS):.6f}"
            for lbl, n in scales.items()
        ],
    )
    console.print(table)
    console.print(f"idle cost (no traffic): ${idle_cost(use_case, stage):,.2f} a month")
    for label, rows in found.items():
        binding = [(name, need / limit) for name, need, limit, *_ in rows if not math.isnan(limit)]
        first = max(binding, key=lambda x: x[1])
        verdict = "over" if first[1] > 1 else "at"
        console.print(
            f"{label} (peak x{peak_factor:g}): first limit is {first[0]} at {first[1]:.0%}"
            + (f" ({verdict} it)" if first[1] > 1 else "")
        )
        for name, need, limit, unit, fix in rows:
            if math.isnan(limit):
                console.print(f"    {name}: needs {need:,.0f} {unit} at peak; {fix}")
            elif need > limit:
                console.print(f"    [red]{name}: needs {need:,.1f} {unit}, limit {limit:,.0f}[/]: {fix}")
