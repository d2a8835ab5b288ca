"""`liftoff cost report`: cost per request by prompt version and model, from the invoke function's
one log line per request ("invoke ok": prompt_id, prompt_version, model_id, cost_usd, tokens, latency).

- Local mode (default): reads the local log (`.liftoff/<use_case>.log`, or `--log-file`).
- Deployed (`--stage`): runs a CloudWatch Logs Insights query over the function's log group
  (the stack's `InvokeLogGroupName` output), aggregated by the same keys.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
import click
from rich.console import Console
from rich.table import Table

from liftoff.console import make_console, plural
from liftoff.deployed import stack_outputs
from liftoff.local import runtime
from liftoff.options import use_case_option
from service.dal.spend_counter import DaySpend, SpendCounter
from service.evalcore.stats import percentile

SUCCESS_MESSAGE = "invoke ok"  # service/handlers/invoke.py
GROUP_KEYS = ("prompt_id", "prompt_version", "model_id")
INSIGHTS_QUERY = f"""
filter message = "{SUCCESS_MESSAGE}"
| stats count(*) as requests, sum(cost_usd) as total_usd, avg(cost_usd) as avg_usd,
        pct(cost_usd, 50) as p50_usd, pct(cost_usd, 95) as p95_usd,
        avg(input_tokens) as avg_input_tokens, avg(output_tokens) as avg_output_tokens,
        pct(latency_ms, 95) as p95_latency_ms
  by prompt_id, prompt_version, model_id
| sort total_usd desc
"""


@dataclass(frozen=True)
class CostRow:
    prompt_id: str
    prompt_version: int
    model_id: str
    requests: int
    total_usd: float
    avg_usd: float
    p50_usd: float
    p95_usd: float
    avg_input_tokens: float
    avg_output_tokens: float
    p95_latency_ms: float


def json_records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Every JSON object among log lines (log lines and EMF records); text lines are skipped."""
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def read_log_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The success records among JSON log lines; anything else (EMF, other messages, text) is skipped."""
    return [r for r in json_records(lines) if r.get("message") == SUCCESS_MESSAGE and "cost_usd" in r]


def summarize(records: list[dict[str, Any]]) -> list[CostRow]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        groups[tuple(record[k] for k in GROUP_KEYS)].append(record)
    rows = []
    for (prompt_id, version, model_id), items in groups.items():
        costs = [float(r["cost_usd"]) for r in items]
        rows.append(
            CostRow(
                prompt_id=prompt_id,
                prompt_version=int(version),
                model_id=model_id,
                requests=len(items),
                total_usd=sum(costs),
                avg_usd=statistics.fmean(costs),
                p50_usd=percentile(costs, 50),
                p95_usd=percentile(costs, 95),
                avg_input_tokens=statistics.fmean(r["input_tokens"] for r in items),
                avg_output_tokens=statistics.fmean(r["output_tokens"] for r in items),
                p95_latency_ms=percentile([float(r["latency_ms"]) for r in items], 95),
            )
        )
    return sorted(rows, key=lambda r: (-r.total_usd, r.prompt_id, r.prompt_version))


def local_report(log_file: Path) -> list[CostRow]:
    if not log_file.exists():
        raise click.ClickException(f"{log_file} does not exist: run `liftoff local up` and send some requests first")
    with log_file.open(encoding="utf-8", errors="replace") as lines:
        return summarize(read_log_lines(lines))


def insights_report(
    logs_client: Any,
    log_group: str,
    *,
    since_s: int,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = 120.0,
    progress: Callable[[str], None] = lambda _msg: None,
) -> list[CostRow]:
    end = int(now())
    query_id = logs_client.start_query(
        logGroupName=log_group, startTime=end - since_s, endTime=end, queryString=INSIGHTS_QUERY
    )["queryId"]
    waited = 0.0
    while True:
        result = logs_client.get_query_results(queryId=query_id)
        status = result["status"]
        if status == "Complete":
            break
        if status in ("Failed", "Cancelled", "Timeout", "Unknown"):
            raise click.ClickException(f"the Logs Insights query on {log_group} ended {status}")
        if waited >= timeout_s:
            logs_client.stop_query(queryId=query_id)
            raise click.ClickException(f"the Logs Insights query on {log_group} took over {timeout_s:.0f}s; stopped")
        progress(f"query {status.lower()} ({waited:.0f}s)")
        sleep(1.0)
        waited += 1.0
    rows = []
    for fields in result["results"]:
        values = {f["field"]: f["value"] for f in fields}
        rows.append(
            CostRow(
                prompt_id=values["prompt_id"],
                prompt_version=int(float(values["prompt_version"])),
                model_id=values["model_id"],
                requests=int(float(values["requests"])),
                **{
                    name: float(values[name])
                    for name in (
                        "total_usd",
                        "avg_usd",
                        "p50_usd",
                        "p95_usd",
                        "avg_input_tokens",
                        "avg_output_tokens",
                        "p95_latency_ms",
                    )
                },
            )
        )
    return rows


def parse_since(text: str) -> int:
    """`90m`, `24h`, `7d` -> seconds."""
    units = {"m": 60, "h": 3600, "d": 86_400}
    try:
        value, unit = int(text[:-1]), text[-1]
        if value <= 0 or unit not in units:
            raise ValueError
    except (ValueError, IndexError) as exc:
        raise click.BadParameter(f"{text!r}: use a number and m, h or d (e.g. 24h)") from exc
    return value * units[unit]


WIDE = 110  # columns from which the cost table shows every figure


def render(rows: list[CostRow], *, title: str, max_cost_usd: float | None, console: Console) -> None:
    if not rows:
        console.print(f"{title}: no successful requests found.")
        return
    # below WIDE columns the table keeps what a reader needs to act on (figures are never cut: no_wrap), and
    # the model of each row goes under it
    wide = console.width >= WIDE
    columns = ["prompt", "v", "model", "requests", "total $", "avg $/req", "p50 $", "p95 $", "tokens in/out", "p95 ms"]
    if not wide:
        columns = ["prompt v", "requests", "avg $/req", "p95 $", "tokens in/out", "p95 ms"]
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column.startswith(("prompt", "model")) else "right", no_wrap=True)
    for row in rows:
        over = max_cost_usd is not None and row.avg_usd > max_cost_usd
        average = f"[{'red' if over else 'green'}]{row.avg_usd:.8f}[/]"
        tokens = f"{row.avg_input_tokens:.0f}/{row.avg_output_tokens:.0f}"
        if wide:
            table.add_row(
                row.prompt_id,
                str(row.prompt_version),
                row.model_id,
                str(row.requests),
                f"{row.total_usd:.6f}",
                average,
                f"{row.p50_usd:.8f}",
                f"{row.p95_usd:.8f}",
                tokens,
                f"{row.p95_latency_ms:.0f}",
            )
        else:
            table.add_row(
                f"{row.prompt_id} v{row.prompt_version}",
                str(row.requests),
                average,
                f"{row.p95_usd:.8f}",
                tokens,
                f"{row.p95_latency_ms:.0f}",
            )
    console.print(table)
    if not wide:
        for row in rows:
            console.print(f"  {row.prompt_id} v{row.prompt_version}: {row.model_id}, ${row.total_usd:.6f} in all")
    requests = sum(r.requests for r in rows)
    total = sum(r.total_usd for r in rows)
    line = f"{plural(requests, 'request')}, ${total:.6f} in all, ${total / requests:.8f} per request"
    if max_cost_usd is not None:
        line += f" (exit criterion: at most ${max_cost_usd} per request)"
    console.print(line)


@click.group(help="Cost per request and spend, from the logs and the spend counter.")
def cost() -> None:
    pass


@cost.command("report", help="Cost per request by prompt version and model (local log, or a deployed stage).")
@use_case_option()
@click.option("--stage", default=None, help="Query the deployed stage's logs (Logs Insights) instead of local mode.")
@click.option("--since", "since", default="24h", show_default=True, help="With --stage: how far back (m, h, d).")
@click.option("--log-file", type=click.Path(path_type=Path), default=None, help="Local: read this log file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def report(use_case: str, stage: str | None, since: str, log_file: Path | None, as_json: bool) -> None:
    from liftoff.foundation.usecases import load_use_case

    console = make_console()
    config = load_use_case(use_case).config
    max_cost = config.exit_criteria.max_cost_per_request_usd
    spend_table = None
    if stage is None:
        source = log_file or runtime.log_file(use_case)
        rows = local_report(source)
        title = f"{use_case}: cost per request (local log {source})"
        state = runtime.read_state(use_case)
        if runtime.is_running(state):
            spend_table = runtime.local_table(state, state.spend_table_name)
    else:
        outputs = stack_outputs(use_case, stage, required="InvokeLogGroupName")
        spend_table = boto3.resource("dynamodb").Table(outputs["SpendTableName"])
        progress = (lambda _m: None) if as_json else (lambda m: console.print(f"  {m}", style="dim"))
        rows = insights_report(
            boto3.client("logs"), outputs["InvokeLogGroupName"], since_s=parse_since(since), progress=progress
        )
        title = f"{use_case} ({stage}): cost per request, last {since}"
    today = None
    if spend_table is not None:
        counter = SpendCounter(spend_table, use_case)
        today = counter.day(counter.today())
    if as_json:
        click.echo(
            json.dumps(
                {"rows": [asdict(r) for r in rows], "spend_today": asdict(today) if today else None},
                indent=2,
                default=str,
            )
        )
        return
    render(rows, title=title, max_cost_usd=max_cost, console=console)
    if today is not None:
        console.print(spend_line(today, config.budget.daily_cap_usd))


def spend_line(today: DaySpend, cap_usd: float) -> str:
    return (
        f"spend counter, {today.day} (UTC): ${today.spend_usd:.6f} over {plural(today.requests, 'request')} "
        f"({today.spend_usd / cap_usd:.4%} of the ${cap_usd:g} daily cap)"
    )


def _register_project() -> None:
    from liftoff.cost_project import project

    cost.add_command(project)


_register_project()
