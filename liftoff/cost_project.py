"""`liftoff cost project`: what a use case costs per month at N, 10N and 100N requests a day, and
which limit it meets first.

Model cost comes from measured token counts (the latest eval report's answered cases, or
`--report`), priced at pricing/bedrock.yaml; everything around it from pricing/aws.yaml, with the
use case's own settings (the invoke function's memory, alarms, WAF in prod, metrics). Lambda
duration is the mean latency the eval report measured, when it measured a real model (a deployed
stage or Bedrock); a report against the local simulator, which answers in milliseconds, would
understate the bill, so its duration is the p95 latency criterion instead (the output says which);
`--duration-ms` overrides both. The limits it meets (the daily cap, the monthly budget, the API throttle
and quota, Lambda concurrency) are compared at the charter's volume, peak rate and traffic profile.

A use case with `knowledge:` adds its knowledge base (liftoff/cost_knowledge.py): each request's query
embedding, vector query and grounding check (measured from the answers' cost_lines, else estimated), the
vectors' storage per month, one full ingestion, and its idle cost beside the alternatives' (OpenSearch
Serverless, Kendra, Aurora Serverless v2 with pgvector).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import click
import yaml
from rich.table import Table

from liftoff import REPO_ROOT
from liftoff.console import make_console
from liftoff.foundation.config import (
    UseCaseConfig,
    canary_schedule,
    get_stage,
    schedule_seconds,
    ungrounded_rate_alarmed,
)
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.function_env import SPEND_READING_MAX_AGE_S
from liftoff.foundation.memory import invoke_memory_mb
from liftoff.foundation.usecases import load_use_case
from liftoff.options import use_case_option

AWS_PRICES = REPO_ROOT / "pricing" / "aws.yaml"
DAYS = 30
# the standing EMF metrics (one dimension set: UseCase, Stage): 16 of the invoke function, FeedbackGood and
# FeedbackBad, and the golden canary's 5; a prompt canary's 4 CanaryVersion* metrics exist only while it runs
METRIC_NAMES = 23
# stacks/constructs/monitoring.py: LatencyP95, CostPerRequest, InvalidOutputRate, DailySpend, SpendCapHit,
# Api5xxRate, ModelThrottling, FeedbackBadRate, LambdaThrottles, and the canary's CanaryAccuracy,
# CanaryVersionAccuracy, CanaryVersionErrorRate, CanaryVersionLatencyP95, CanaryErrors, CanaryRollbackErrors,
# CanaryScheduleFailures. A retrieval use case whose answers are checked adds UngroundedRate: alarm_count(config).
ALARMS = 16
# a use case with knowledge: the invoke function's RetrievalLatency, Passages, NoContext, GroundingScore,
# Ungrounded and Grounded, and the golden canary's CanaryRetrievalRecall and CanaryHallucinationRate
RETRIEVAL_METRIC_NAMES = 8
ACCOUNT_CONCURRENCY = 1000  # the default Lambda concurrency quota per Region
WAF_RULES = 3
DEFAULT_PEAK_FACTOR = 3.0  # peak / average rate when the charter does not say


def alarm_count(config: UseCaseConfig) -> int:
    """The alarms of the use case's stack: every use case's ALARMS, plus UngroundedRate when its answers are
    grounding-checked against a `max_ungrounded_rate` (liftoff.config.ungrounded_rate_alarmed)."""
    return ALARMS + (1 if ungrounded_rate_alarmed(config) else 0)


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
    # a use case with knowledge: each request's retrieval lines (cost_knowledge.RETRIEVAL_LINES -> USD), beside
    # model_cost_usd (then the model's and the guardrail's filters only), and where they come from
    retrieval: dict[str, float] = field(default_factory=dict)
    retrieval_source: str = ""
    # measured: a grounded answer's cost by line (the API's cost_lines), over the cases answered from passages
    grounded_answer: dict[str, float] = field(default_factory=dict)

    @property
    def spend_usd(self) -> float:
        """What a request adds to the daily spend counter: the model, the guardrail and the retrieval lines."""
        return self.model_cost_usd + sum(self.retrieval.values())


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
    # the API's bill by line (retrieval prompts): the model's and the guardrail's lines apart from retrieval's
    model_costs = [
        (r["cost_lines"].get("model", 0.0) + r["cost_lines"].get("guardrail", 0.0))
        if r.get("cost_lines")
        else r["cost_usd"]
        for r in answered
    ]
    usage = Usage(
        requests=len(answered),
        input_tokens=statistics.fmean(r["input_tokens"] for r in answered),
        output_tokens=statistics.fmean(r["output_tokens"] for r in answered),
        model_cost_usd=statistics.fmean(model_costs),
        log_bytes=log_bytes,
        source=str(results.relative_to(REPO_ROOT) if results.is_relative_to(REPO_ROOT) else results),
        latency_ms=statistics.fmean(float(r.get("latency_ms") or 0) for r in answered),
        simulated=bool(simulated),
    )
    kb = knowledge_cost(use_case)
    if kb is None:
        return usage
    from liftoff.cost_knowledge import request_lines

    lined = [r["cost_lines"] for r in answered if r.get("cost_lines")]
    measured = {
        k: sum(x.get(k, 0.0) for x in lined) / len(answered) for k in ("embedding", "vector_query", "grounding")
    }
    lines = request_lines(
        load_use_case(use_case),
        kb,
        measured=measured if lined else None,
        answer_chars=statistics.fmean(len(r.get("output") or "") for r in answered),
    )
    grounded = [
        r["cost_lines"]
        for r in answered
        if r.get("cost_lines") and (r.get("retrieval") or {}).get("outcome") == "answered"
    ]
    from service.models.retrieval import COST_LINES

    keys = [k for k in COST_LINES if any(k in x for x in grounded)]
    return dataclasses.replace(
        usage,
        retrieval=lines.lines,
        retrieval_source=lines.source,
        grounded_answer={k: sum(x.get(k, 0.0) for x in grounded) / len(grounded) for k in keys} if grounded else {},
    )


@functools.cache
def knowledge_cost(use_case: str):
    """The use case's knowledge base's ingestion and storage (cost_knowledge.KnowledgeBaseCost); None without
    knowledge. Read once per command: every volume prices the same corpus."""
    loaded = load_use_case(use_case)
    if loaded.config.knowledge is None:
        return None
    from liftoff.cost_knowledge import knowledge_base_cost

    try:
        return knowledge_base_cost(loaded, yaml.safe_load(AWS_PRICES.read_text()))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


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
    kb = knowledge_cost(use_case)
    metric_names = METRIC_NAMES + (RETRIEVAL_METRIC_NAMES if kb else 0)
    costs = {
        "Bedrock model": n * usage.model_cost_usd,
        **{line: n * usd for line, usd in usage.retrieval.items()},
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
        "CloudWatch metrics, dashboard, alarms": metric_names * prices["cloudwatch"]["custom_metric_per_month"]
        + prices["cloudwatch"]["dashboard_per_month"]
        + alarm_count(config) * prices["cloudwatch"]["standard_alarm_per_month"],
        "X-Ray": million * prices["xray"]["sampled_share"] * prices["xray"]["per_million_traces_recorded"],
        "KMS (alarm topic key)": prices["kms"]["key_per_month"],
        "Golden canary (model calls)": canary_runs_per_month(config, stage) * golden_size(use_case) * usage.spend_usd,
        # the feedback key: read once per execution environment, so its calls are a rounding error
        "Secrets Manager (feedback key)": prices["secrets_manager"]["secret_per_month"],
    }
    if kb:
        costs["S3 Vectors storage"] = kb.storage_per_month_usd  # no cluster: the knowledge base's only idle cost
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
    from liftoff.foundation.eval_cases import golden_cases

    return len(golden_cases(use_case))


def idle_cost(use_case: str, stage: str) -> float:
    """What the stack costs with no traffic at all."""
    zero = Usage(0, 0, 0, 0, 0, "")
    return sum(monthly_costs(use_case, stage, 0, zero, 0).values())


def traffic_profile(config: UseCaseConfig) -> tuple[list[float], str]:
    """Each UTC hour's share of a day's requests: the charter's `traffic_by_utc_hour`, else flat."""
    weights = config.charter.traffic_by_utc_hour if config.charter else None
    if weights:
        total = sum(weights)
        return [w / total for w in weights], "the charter's traffic_by_utc_hour"
    return [1 / 24] * 24, "flat traffic (no charter traffic_by_utc_hour)"


def hour_reached(daily_amount: float, limit: float, shares: list[float]) -> float | None:
    """When in the UTC day a daily amount spread by `shares` reaches `limit` (hours, 0-24); None if it does not."""
    if daily_amount <= limit:
        return None
    done = 0.0
    for hour, share in enumerate(shares):
        step = daily_amount * share
        if step and done + step >= limit:
            return hour + (limit - done) / step
        done += step
    return 24.0


def clock(hours: float) -> str:
    """`13:24 UTC` for 13.4 hours into a day; `day 5, 07:12 UTC` past the first day."""
    day, rest = divmod(hours, 24)
    minutes = round(rest * 60)
    text = f"{minutes // 60:02d}:{minutes % 60:02d} UTC"
    return f"day {int(day) + 1}, {text}" if day else text


@dataclass(frozen=True)
class Limit:
    """One limit the traffic meets: what it needs against what the use case allows."""

    name: str
    need: float
    limit: float  # nan: not known here (an account quota to compare by hand)
    unit: str
    fix: str
    reached_hours: float | None = None  # hours from the start of the month (day 1, 00:00 UTC); None: not reached
    detail: str = ""

    @property
    def share(self) -> float:
        return self.need / self.limit if self.limit and not math.isnan(self.limit) else math.nan

    @property
    def exceeded(self) -> bool:
        return self.reached_hours is not None


def peak_rate(config: UseCaseConfig, per_day: int, peak_factor: float | None) -> tuple[float, str]:
    """Requests per second at the busiest moment: the charter's peak scaled to `per_day`, else a factor."""
    if peak_factor is None and config.charter is not None:
        charter = config.charter
        return per_day * charter.peak_requests_per_s / charter.expected_requests_per_day, (
            "the charter's peak_requests_per_s, scaled"
        )
    factor = DEFAULT_PEAK_FACTOR if peak_factor is None else peak_factor
    return per_day / 86_400 * factor, f"{factor:g}x the average rate"


@dataclass(frozen=True)
class Projection:
    """A use case at one volume: monthly costs and the limits it meets, the first one named."""

    per_day: int
    costs: dict[str, float]
    limits: list[Limit]
    daily_spend_usd: float  # model and guardrail spend of a day: what the daily cap counts
    refused_share: float  # of a day's requests, refused by the daily cap (429)
    billed_monthly_usd: float  # what is billed with the cap refusing the rest
    profile: str
    peak_source: str

    @property
    def monthly_usd(self) -> float:
        return sum(self.costs.values())

    @property
    def first(self) -> Limit:
        """The limit reached first in time; when none is reached, the nearest."""
        reached = [x for x in self.limits if x.exceeded]
        if reached:
            return min(reached, key=lambda x: (x.reached_hours, -x.share))
        known = [x for x in self.limits if not math.isnan(x.share)]
        return max(known, key=lambda x: x.share)


def project_use_case(  # noqa: PLR0917
    use_case: str,
    stage: str,
    per_day: int,
    usage: Usage,
    duration_ms: float,
    peak_factor: float | None = None,
    costs: dict[str, float] | None = None,
) -> Projection:
    """Cost at `per_day` requests a day and every limit it meets: the API's throttle and quota, Lambda
    concurrency, the daily spend cap (share refused, UTC hour reached) and the monthly budget."""
    config = load_use_case(use_case).config
    costs = costs if costs is not None else monthly_costs(use_case, stage, per_day, usage, duration_ms)
    shares, profile = traffic_profile(config)
    peak_hour = (
        float(max(range(24), key=lambda h: shares[h])) if config.charter and config.charter.traffic_by_utc_hour else 0.0
    )
    peak_rps, peak_source = peak_rate(config, per_day, peak_factor)
    concurrency = peak_rps * duration_ms / 1000
    concurrency_limit = config.capacity.reserved_concurrency or ACCOUNT_CONCURRENCY
    tokens_per_minute = peak_rps * 60 * (usage.input_tokens + usage.output_tokens)
    cap = config.budget.daily_cap_usd
    daily_spend = per_day * usage.spend_usd
    refused = max(0.0, 1 - cap / daily_spend) if daily_spend else 0.0
    monthly = sum(costs.values())
    counted = costs["Bedrock model"] + sum(costs.get(line, 0.0) for line in usage.retrieval)  # what the cap counts
    billed = monthly - counted + min(daily_spend, cap) * DAYS
    budget = config.budget.monthly_usd
    quota_hour = hour_reached(per_day, config.api.quota_per_day, shares)
    cap_hour = hour_reached(daily_spend, cap, shares)
    found = [
        Limit(
            "API Gateway throttle (api.throttle_rate_per_s)",
            peak_rps,
            config.api.throttle_rate_per_s,
            "requests/s",
            "raise api.throttle_rate_per_s (and the usage plan follows)",
            peak_hour if peak_rps > config.api.throttle_rate_per_s else None,
            f"peak: {peak_source}",
        ),
        Limit(
            "API daily quota (api.quota_per_day)",
            float(per_day),
            float(config.api.quota_per_day),
            "requests/day",
            "raise api.quota_per_day",
            quota_hour,
            f"reached at {clock(quota_hour)} ({profile})" if quota_hour is not None else "",
        ),
        Limit(
            "Lambda concurrency" + (" (capacity.reserved_concurrency)" if config.capacity.reserved_concurrency else ""),
            concurrency,
            float(concurrency_limit),
            "executions",
            "raise capacity.reserved_concurrency or the account's Lambda concurrency quota",
            peak_hour if concurrency > concurrency_limit else None,
        ),
        Limit(
            "daily spend cap (budget.daily_cap_usd)",
            daily_spend,
            cap,
            "USD/day",
            "raise budget.daily_cap_usd, or lower the cost per request",
            cap_hour,
            f"reached at {clock(cap_hour)} ({profile}); {refused:.0%} of the day's requests refused with 429 SpendCapHit"
            if cap_hour is not None
            else "",
        ),
        Limit(
            "monthly budget (budget.monthly_usd)",
            billed,
            budget,
            "USD/month",
            "raise budget.monthly_usd (AWS Budgets alerts at 80 % and 100 %; it does not stop traffic)",
            24 * DAYS * budget / billed if billed > budget else None,
            f"billed ${billed:,.2f} a month"
            + (f" (demand ${monthly:,.2f}, the daily cap refuses the rest)" if billed < monthly - 0.005 else "")
            + (f"; reached on {clock(24 * DAYS * budget / billed)}" if billed > budget else ""),
        ),
        Limit(
            "Bedrock tokens per minute",
            tokens_per_minute,
            math.nan,
            "tokens/min",
            "compare with your account's on-demand TPM quota for the model (Service Quotas > Amazon Bedrock)",
        ),
    ]
    return Projection(per_day, costs, found, daily_spend, refused, billed, profile, peak_source)


def per_request(costs: dict[str, float], per_day: int, retrieval: tuple[str, ...] = ()) -> dict[str, float]:
    """A request's share of the month: the model (and guardrail), the retrieval lines (`retrieval` names them),
    and the rest."""
    n = per_day * DAYS
    found = sum(costs.get(line, 0.0) for line in retrieval)
    out = {"model": costs["Bedrock model"] / n}
    if retrieval:
        out["retrieval"] = found / n
    out["infrastructure"] = (sum(costs.values()) - costs["Bedrock model"] - found) / n
    return out


def _amount(value: float, unit: str) -> str:
    if unit.startswith("USD"):
        return f"${value:,.2f}/{unit.split('/')[1]}"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def limit_lines(projection: Projection) -> list[str]:
    """The first limit reached, then each limit reached, the daily cap and the monthly budget, in words."""
    first = projection.first
    if first.exceeded:
        when = clock(first.reached_hours)
        head = f"first limit reached: {first.name} at {when}"
    else:
        head = f"no limit reached; the nearest is {first.name} at {first.share:.0%}"
    lines = [head]
    for item in projection.limits:
        if math.isnan(item.limit):
            lines.append(f"  {item.name}: needs {item.need:,.0f} {item.unit} at peak; {item.fix}")
            continue
        shown = item.exceeded or item.name.startswith(("daily spend cap", "monthly budget"))
        if shown:
            mark = "OVER" if item.exceeded else "within"
            extra = f"; {item.detail}" if item.detail else ""
            fix = f"; {item.fix}" if item.exceeded else ""
            need, limit = _amount(item.need, item.unit), _amount(item.limit, item.unit)
            lines.append(f"  {mark} {item.name}: needs {need} of {limit} ({item.share:.0%}){extra}{fix}")
    return lines


def markdown(use_case: str, stage: str, projections: list[Projection], usage: Usage, duration: float) -> str:
    """The projection as Markdown, as docs/cost.md shows it (tests/unit/test_cost_project.py keeps them equal)."""
    labels = [f"{p.per_day:,}/day" for p in projections]
    rows = [
        f"| {use_case}, {stage} (USD, 30 days) | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for item in projections[0].costs:
        rows.append(f"| {item} | " + " | ".join(f"{p.costs[item]:,.2f}" for p in projections) + " |")
    rows.append("| **total** | " + " | ".join(f"**{p.monthly_usd:,.2f}**" for p in projections) + " |")
    rows.append(
        "| per request | " + " | ".join(f"{p.monthly_usd / (p.per_day * DAYS):.6f}" for p in projections) + " |"
    )
    measured = {**usage.__dict__, "source": "", "duration_ms": duration}
    if not usage.retrieval:  # a use case without knowledge records what it recorded before retrieval existed
        measured = {k: v for k, v in measured.items() if k not in ("retrieval", "retrieval_source", "grounded_answer")}
    out = [
        f"<!-- usage: {json.dumps(measured, sort_keys=True)} -->",
        f"Measured usage: {usage.input_tokens:.1f} input and {usage.output_tokens:.1f} output tokens and "
        f"${usage.model_cost_usd:.7f} of model and guardrail per request; Lambda for {duration:.0f} ms.",
        "",
        *rows,
        "",
    ]
    for projection in projections:
        lines = limit_lines(projection)
        out.append(f"- **{projection.per_day:,}/day**: {lines[0]}")
        out += [f"    - {line.strip()}" for line in lines[1:] if "tokens per minute" not in line]
    kb = knowledge_cost(use_case)
    if kb is not None:
        out += ["", *[f"- {line}" for line in knowledge_lines(use_case, stage, usage)], ""]
        out += [*IDLE_HEADER, *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in idle_rows(use_case, stage)]]
    return "\n".join(out) + "\n"


IDLE_HEADER = ("| idle, 30 days | USD | how | price checked |", "|---|---:|---|---|")


def alternatives_markdown() -> str:
    """The alternatives' idle costs as docs/cost.md shows them (tests/unit/test_cost_knowledge.py keeps them equal)."""
    from liftoff.cost_knowledge import alternatives

    rows = [f"| {a.name} | {a.monthly_usd:,.2f} | {a.how} | {a.checked}: {a.status} |" for a in alternatives(_aws())]
    return "\n".join([*IDLE_HEADER, *rows]) + "\n"


def _aws() -> dict:
    return yaml.safe_load(AWS_PRICES.read_text())


def knowledge_lines(use_case: str, stage: str, usage: Usage) -> list[str]:
    """The knowledge base's costs in sentences: the corpus, a grounded answer by line, ingestion, storage, idle."""
    kb = knowledge_cost(use_case)
    c, p = kb.corpus, kb.prices
    dimension = load_use_case(use_case).config.knowledge.embedding.dimension
    gib = c.stored_bytes / 1024**3
    lines = [
        f"knowledge base: {c.documents} documents ({c.chars:,} characters) in {c.folder}/ -> {c.chunks:,} chunks "
        f"(vectors of {dimension} dimensions), {c.embedded_tokens:,} tokens embedded, overlap included"
        + (" (semantic chunking: its sentence-embedding pass estimated)" if c.estimated else "")
        + (f"; not counted (not plain text): {', '.join(c.not_counted)}" if c.not_counted else ""),
    ]
    if usage.grounded_answer:
        parts = ", ".join(f"{line} ${usd:.8f}" for line, usd in usage.grounded_answer.items())
        lines.append(
            f"a grounded answer (measured, the cases answered from passages): {parts}: "
            f"${sum(usage.grounded_answer.values()):.8f}"
        )
    parts = ", ".join(f"{line.lower()} ${usd:.8f}" for line, usd in usage.retrieval.items())
    lines.append(
        f"a request of the eval's mix (refusals included): model and guardrail ${usage.model_cost_usd:.8f}, {parts}: "
        f"${usage.spend_usd:.8f} ({usage.retrieval_source})"
    )
    lines.append(
        f"ingestion, one full sync: ${kb.ingestion_usd:.6f} ({c.embedded_tokens:,} tokens x "
        f"${p.embedding_per_1k_tokens:g}/1k = ${kb.ingestion_embedding_usd:.6f}, and {gib:.6f} GiB written x "
        f"${p.put_per_gb:g}/GB = ${kb.ingestion_put_usd:.6f}); a sync re-embeds changed documents only"
    )
    lines.append(
        f"vector storage: {c.chunks:,} vectors x ({dimension} x 4 bytes + metadata) = {gib:.6f} GiB x "
        f"${p.storage_per_gb_month:g}/GB-month = ${kb.storage_per_month_usd:.6f} a month"
    )
    lines.append(
        f"idle, per month: the knowledge base ${kb.storage_per_month_usd:.6f} (S3 Vectors storage; no cluster runs); "
        f"the whole {stage} stack ${idle_cost(use_case, stage):,.2f} (dashboard, alarms, metrics, keys"
        + (", WAF" if get_stage(stage).waf else "")
        + ")"
    )
    return lines


def idle_rows(use_case: str, stage: str) -> list[tuple[str, str, str, str]]:
    """The knowledge base's idle cost, then each alternative's: (store, USD a month, how, checked and status)."""
    from liftoff.cost_knowledge import alternatives

    kb = knowledge_cost(use_case)
    aws = yaml.safe_load(AWS_PRICES.read_text())
    rows = [
        (
            "this knowledge base: S3 Vectors",
            f"{kb.storage_per_month_usd:,.6f}",
            "storage only",
            f"{aws['s3_vectors']['checked']}: {aws['s3_vectors']['status']}",
        )
    ]
    return rows + [(a.name, f"{a.monthly_usd:,.2f}", a.how, f"{a.checked}: {a.status}") for a in alternatives(aws)]


@click.command(
    "project",
    help="Monthly cost at N, 10N and 100N requests a day, and the limits it meets: the API's throttle and quota, "
    "Lambda concurrency, the daily spend cap (share refused, UTC hour reached) and the monthly budget.",
)
@use_case_option()
@click.option(
    "--requests-per-day",
    "per_day",
    type=click.IntRange(1),
    default=None,
    help="N (default: the charter's expected_requests_per_day).",
)
@click.option("--stage", type=click.Choice(["sandbox", "prod"]), default="prod", show_default=True)
@click.option("--report", type=click.Path(exists=True, path_type=Path), default=None, help="Eval report folder.")
@click.option("--duration-ms", type=float, default=None, help="Lambda duration (default: the p95 criterion).")
@click.option(
    "--peak-factor",
    type=float,
    default=None,
    help=f"Peak rate / average rate (default: the charter's peak_requests_per_s, else {DEFAULT_PEAK_FACTOR:g}).",
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the tables as Markdown (docs/cost.md shows one).")
def project(use_case, per_day, stage, report, duration_ms, peak_factor, as_json, as_markdown) -> None:  # noqa: PLR0917
    try:
        config = load_use_case(use_case).config
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if per_day is None:
        if config.charter is None:
            raise click.UsageError(
                f"give --requests-per-day N (usecases/{use_case}.yaml has no charter to read it from)"
            )
        per_day = config.charter.expected_requests_per_day
    usage = measured_usage(use_case, report)
    duration, duration_source = lambda_duration(config, usage, duration_ms)
    volumes = [per_day, 10 * per_day, 100 * per_day]
    projections = [project_use_case(use_case, stage, n, usage, duration, peak_factor) for n in volumes]
    if as_markdown:
        click.echo(markdown(use_case, stage, projections, usage, duration), nl=False)
        return
    if as_json:
        click.echo(
            json.dumps(
                {
                    "usage": usage.__dict__,
                    "lambda_duration_ms": duration,
                    "lambda_duration_source": duration_source,
                    "lambda_memory_mb": invoke_memory_mb(config.capacity.memory_mb),
                    "per_request_usd": {
                        f"{p.per_day:,}/day": per_request(p.costs, p.per_day, tuple(usage.retrieval))
                        for p in projections
                    },
                    "monthly_usd": {f"{p.per_day:,}/day": p.costs for p in projections},
                    "idle_usd_per_month": idle_cost(use_case, stage),
                    **({"knowledge": knowledge_dict(use_case, stage, usage)} if knowledge_cost(use_case) else {}),
                    "projections": [projection_dict(p) for p in projections],
                },
                indent=2,
                default=str,
            )
        )
        return
    console = make_console()
    console.print(
        f"{use_case} ({stage}): {usage.input_tokens:.0f} in / {usage.output_tokens:.0f} out tokens and "
        f"${usage.model_cost_usd:.6f} of model and guardrail per request, measured on {usage.requests} answered "
        f"cases ({usage.source}); Lambda {invoke_memory_mb(config.capacity.memory_mb)} MB for {duration:.0f} ms "
        f"({duration_source}); prices: pricing/bedrock.yaml, pricing/aws.yaml"
    )
    table = Table(title="monthly cost (USD, 30 days)")
    table.add_column("")
    for projection in projections:
        table.add_column(f"{projection.per_day:,}/day", justify="right")
    for item in projections[0].costs:
        table.add_row(item, *[f"{p.costs[item]:,.2f}" for p in projections])
    table.add_row("[bold]total[/]", *[f"[bold]{p.monthly_usd:,.2f}[/]" for p in projections])
    table.add_row("per request", *[f"{p.monthly_usd / (p.per_day * DAYS):.6f}" for p in projections])
    retrieval = tuple(usage.retrieval)
    table.add_row("  of which model", *[f"{per_request(p.costs, p.per_day)['model']:.6f}" for p in projections])
    if retrieval:
        table.add_row(
            "  of which retrieval",
            *[f"{per_request(p.costs, p.per_day, retrieval)['retrieval']:.6f}" for p in projections],
        )
    table.add_row(
        "  of which infrastructure",
        *[f"{per_request(p.costs, p.per_day, retrieval)['infrastructure']:.6f}" for p in projections],
    )
    console.print(table)
    console.print(f"idle cost (no traffic): ${idle_cost(use_case, stage):,.2f} a month")
    if knowledge_cost(use_case) is not None:
        show_knowledge(console, use_case, stage, usage)
    for projection in projections:
        lines = limit_lines(projection)
        console.print(
            f"[bold]{projection.per_day:,}/day[/] (peak: {projection.peak_source}): {lines[0]}", highlight=False
        )
        for line in lines[1:]:
            console.print(f"[red]{line}[/]" if line.lstrip().startswith("OVER") else line, highlight=False)


def show_knowledge(console, use_case: str, stage: str, usage: Usage) -> None:
    """The knowledge base's lines and the idle costs beside the alternatives', on the terminal."""
    for line in knowledge_lines(use_case, stage, usage):
        console.print(line, highlight=False)
    idle = Table(title="idle cost per month (30 days) beside the vector stores other templates deploy")
    for column in ("store", "USD / month", "how", "price checked"):
        idle.add_column(column, justify="right" if column == "USD / month" else "left")
    for row in idle_rows(use_case, stage):
        idle.add_row(*row)
    console.print(idle)


def knowledge_dict(use_case: str, stage: str, usage: Usage) -> dict:
    """The knowledge base's figures for --json."""
    from liftoff.cost_knowledge import alternatives

    kb = knowledge_cost(use_case)
    return {
        "corpus": dataclasses.asdict(kb.corpus),
        "prices": dataclasses.asdict(kb.prices),
        "per_request_usd": {"model and guardrail": usage.model_cost_usd, **usage.retrieval, "total": usage.spend_usd},
        "grounded_answer_usd": usage.grounded_answer,
        "per_request_source": usage.retrieval_source,
        "ingestion_usd": {
            "embedding": kb.ingestion_embedding_usd,
            "put": kb.ingestion_put_usd,
            "total": kb.ingestion_usd,
        },
        "storage_usd_per_month": kb.storage_per_month_usd,
        "idle_usd_per_month": {"knowledge base": kb.storage_per_month_usd, "stack": idle_cost(use_case, stage)},
        "alternatives_idle_usd_per_month": [
            dataclasses.asdict(a) for a in alternatives(yaml.safe_load(AWS_PRICES.read_text()))
        ],
    }


def projection_dict(projection: Projection) -> dict:
    first = projection.first
    return {
        "requests_per_day": projection.per_day,
        "monthly_usd": projection.monthly_usd,
        "billed_monthly_usd": projection.billed_monthly_usd,
        "daily_spend_usd": projection.daily_spend_usd,
        "refused_share": projection.refused_share,
        "traffic_profile": projection.profile,
        "peak": projection.peak_source,
        "first_limit": {
            "name": first.name,
            "reached": first.exceeded,
            "at": clock(first.reached_hours) if first.exceeded else None,
        },
        "limits": [
            {
                "name": x.name,
                "need": x.need,
                "limit": None if math.isnan(x.limit) else x.limit,
                "unit": x.unit,
                "share": None if math.isnan(x.share) else x.share,
                "reached_at": clock(x.reached_hours) if x.exceeded else None,
                "detail": x.detail,
                "fix": x.fix,
            }
            for x in projection.limits
        ],
    }
