"""`liftoff load`: a Locust run (loadtests/locustfile.py, headless, in its own process) against local
mode or a deployed stage, summarised: p50/p95/p99 latency, error rate, throughput, cost per request,
and a chart (`reports/<use_case>/load-<time>/load.png` and `.html`).

Locally, requests run in a pool of execution environments as on Lambda (liftoff/local/environments.py):
one request at a time each, a cold start for each new one, a 429 when all are busy; the report counts
cold starts and throttles. Set a realistic model latency with `--sim-latency-ms` (log-normal around it).
"""

from __future__ import annotations

import contextlib
import csv
import html
import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from liftoff import REPO_ROOT
from liftoff.console import make_console
from liftoff.local import runtime
from liftoff.options import use_case_option

LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"
IN_FLIGHT_WAIT_S = 35  # API Gateway's 29 s integration timeout, and some: the longest a request can take


def request_bodies(use_case: str) -> list[dict]:
    """Realistic traffic: the answered kinds of the eval set (clean and noisy), no expected refusals."""
    from liftoff.foundation.eval_cases import load_cases, load_suite

    suite = load_suite(use_case)
    return [
        {"prompt_id": c.prompt_id or suite.prompt_id, "variables": c.variables}
        for c in load_cases(use_case)
        if not c.expect_error and not {"adversarial", "pii"} & set(c.tags)
    ]


def _percentile(histogram: dict[str, int], q: float) -> float:
    """Nearest-rank percentile of Locust's response-time histogram ({rounded ms: count})."""
    times = sorted((float(ms), n) for ms, n in histogram.items())
    rank = max(1, math.ceil(q / 100 * sum(n for _, n in times)))
    seen = 0
    for ms, n in times:
        seen += n
        if seen >= rank:
            return ms
    return times[-1][0]


def summarize(stats_file: Path, costs: dict, duration_s: float) -> dict:
    """The run's figures from Locust's final stats (--json-file). Its CSV stats are written every few seconds
    and lagged behind the run's end: a short run's last requests, or all of them, were missing."""
    entries = json.loads(stats_file.read_text()) if stats_file.exists() else []
    requests = sum(e["num_requests"] for e in entries)
    failures = sum(e["num_failures"] for e in entries)
    if not requests:
        raise click.ClickException(
            "no request completed during the run (the execution environments may still have been starting on a "
            "busy machine); run it longer with --duration, or with fewer --users"
        )
    histogram: dict[str, int] = {}
    for entry in entries:
        for ms, count in entry["response_times"].items():
            histogram[ms] = histogram.get(ms, 0) + count
    return {
        "requests": requests,
        "failures": failures,
        "error_rate": failures / requests,
        "rps": requests / duration_s,
        "p50_ms": _percentile(histogram, 50),
        "p95_ms": _percentile(histogram, 95),
        "p99_ms": _percentile(histogram, 99),
        "cost_per_request_usd": costs["usd"] / costs["answered"] if costs.get("answered") else None,
    }


def chart(prefix: Path, out: Path, title: str) -> None:
    from liftoff.charts import pyplot, svg

    plt = pyplot()
    with Path(f"{prefix}_stats_history.csv").open() as history:
        rows = [r for r in csv.DictReader(history) if r["Name"] == "Aggregated" and r["Requests/s"] != "N/A"]
    if not rows:
        return
    t0 = int(rows[0]["Timestamp"])
    seconds = [int(r["Timestamp"]) - t0 for r in rows]

    def series(column: str) -> list[float]:
        return [float(r[column]) if r[column] not in ("N/A", "") else float("nan") for r in rows]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for column in ("50%", "95%", "99%"):
        top.plot(seconds, series(column), label=f"p{column.rstrip('%')}")
    top.set_ylabel("latency (ms)")
    top.legend()
    top.set_title(title, fontsize=10)
    bottom.plot(seconds, series("Requests/s"), label="requests/s")
    bottom.plot(seconds, series("User Count"), label="users", linestyle="--")
    bottom.set_xlabel("seconds")
    bottom.legend()
    fig.savefig(out / "load.png", dpi=90, bbox_inches="tight")
    (out / "load.html").write_text(
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>{svg(fig)}"
    )


@click.command("load", help="Load-test the API with Locust (steady, spike or soak) and summarise it.")
@use_case_option()
@click.option("--target", type=click.Choice(["local", "api"]), default="local", show_default=True)
@click.option("--stage", default=None, help="api target: the deployed stage.")
@click.option("--users", default=10, show_default=True, type=click.IntRange(1, 5000))
@click.option("--duration", default=30, show_default=True, type=click.IntRange(5, 86_400), help="Seconds.")
@click.option("--shape", type=click.Choice(["steady", "spike", "soak"]), default="steady", show_default=True)
@click.option("--sim-latency-ms", default=300.0, show_default=True, help="local: the simulated model latency.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--keep-local", is_flag=True, help="local: leave local mode running afterwards (default: stop it).")
def load(use_case, target, stage, users, duration, shape, sim_latency_ms, as_json, keep_local) -> None:  # noqa: PLR0917
    with contextlib.ExitStack() as stack:
        if target == "local":
            say = lambda message: click.echo(message, err=True)  # noqa: E731
            state = stack.enter_context(local_for_load(use_case, sim_latency_ms, keep=keep_local, say=say))
            host, key = state.api_url, state.api_key
        else:
            if stage is None:
                raise click.ClickException("--target api needs --stage")
            from liftoff.evals.cli import api_endpoint

            url, key = api_endpoint(use_case, stage)
            host = url.rsplit("/v1/invoke", 1)[0]
        summary = _drive(use_case, target, host, key, users=users, duration=duration, shape=shape, as_json=as_json)
    from liftoff.last_results import write_result

    # the rate it ran at is the measured throughput (`rps`); readiness compares it with the charter's peak
    write_result(use_case, "load", stage if target == "api" else "local", {**summary, "duration_s": duration})


@contextlib.contextmanager
def local_for_load(use_case: str, sim_latency_ms: float, *, keep: bool, say) -> Iterator[runtime.LocalState]:
    """Local mode to load-test. One already running is the user's (their published versions, aliases and
    history live in it): it is used as it is, never restarted or stopped. Otherwise one is started with
    `sim_latency_ms` of simulated model latency and stopped afterwards (unless `keep`)."""
    state = runtime.read_state(use_case)
    if runtime.is_running(state):
        if state.sim_latency_ms != sim_latency_ms:
            say(
                f"using the running local mode of {use_case} as it is: its simulated model latency is "
                f"{state.sim_latency_ms:g} ms, not --sim-latency-ms {sim_latency_ms:g} (to load-test at that latency, "
                f"stop it first: liftoff local down --use-case {use_case}; its state is lost unless it runs with --persist)"
            )
        yield state
        return
    os.environ["LIFTOFF_SIM_LATENCY_MS"] = str(sim_latency_ms)
    os.environ["LIFTOFF_SIM_LATENCY_SIGMA"] = "0.35"  # a log-normal spread, like a real model's
    with runtime.running_for(use_case, keep=keep, say=say) as started:
        yield started


def local_stats(host: str) -> dict:
    """What local mode's pool of execution environments has done so far (GET /_local/stats)."""
    import requests

    return requests.get(f"{host}/_local/stats", timeout=10).json()


def environment_figures(before: dict, after: dict) -> dict:
    """Cold starts and throttles during the run, and the environments it left running."""
    new_cold = after["cold_start_ms"][len(before["cold_start_ms"]) :]
    return {
        "environments": after["environments"],
        "max_environments": after["max_environments"],
        "cold_starts": len(new_cold),
        "cold_start_median_ms": statistics.median(new_cold) if new_cold else 0.0,
        "throttles": after["throttles"] - before["throttles"],
    }


def _drive(use_case, target, host, key, *, users, duration, shape, as_json) -> dict:
    """Run Locust against `host` and summarise it."""
    before = local_stats(host) if target == "local" else None
    out = REPO_ROOT / "reports" / use_case / f"load-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    out.mkdir(parents=True, exist_ok=True)
    cases = out / "requests.json"
    cases.write_text(json.dumps(request_bodies(use_case)))
    env = {
        **os.environ,
        "LIFTOFF_LOAD_KEY": key,
        "LIFTOFF_LOAD_CASES": str(cases),
        "LIFTOFF_LOAD_SHAPE": shape,
        "LIFTOFF_LOAD_USERS": str(users),
        "LIFTOFF_LOAD_SECONDS": str(duration),
        "LIFTOFF_LOAD_COSTS": str(out / "costs.json"),
    }
    prefix = out / "locust"
    if not as_json:
        click.echo(f"locust: {shape}, {users} users, {duration}s against {host} ...")
    done = subprocess.run(  # noqa: S603 - our own locustfile, the venv's locust
        [
            str(Path(sys.executable).with_name("locust")),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            host,
            "--csv",
            str(prefix),
            "--csv-full-history",
            "--only-summary",
            "--loglevel",
            "WARNING",
            # requests still in flight when the run ends are waited for, not cut off: on a busy machine (or
            # behind cold starts) a short run otherwise ends before any request has completed
            "--stop-timeout",
            str(IN_FLIGHT_WAIT_S),
            "--json-file",
            str(prefix),  # Locust adds .json: the final stats, which summarize() reads
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=duration + IN_FLIGHT_WAIT_S + 120,
    )
    if not Path(f"{prefix}_stats.csv").exists():
        raise click.ClickException(f"locust did not run (exit {done.returncode}): {done.stderr[-800:]}")
    costs = json.loads((out / "costs.json").read_text()) if (out / "costs.json").exists() else {}
    summary = {
        "use_case": use_case,
        "target": target,
        "shape": shape,
        "users": users,
        **summarize(Path(f"{prefix}.json"), costs, duration),
    }
    if before is not None:
        summary.update(environment_figures(before, local_stats(host)))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    chart(prefix, out, f"{use_case} {shape}, {users} users, {target}")
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return summary
    table = Table(title=f"load: {use_case}, {shape}, {users} users, {duration}s ({target})")
    columns = ["requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "$ / request"]
    if before is not None:
        columns += ["environments", "cold starts", "throttled"]
    for column in columns:
        table.add_column(column, justify="right")
    cost = summary["cost_per_request_usd"]
    table.add_row(
        str(summary["requests"]),
        f"{summary['error_rate']:.1%}",
        f"{summary['rps']:.1f}",
        f"{summary['p50_ms']:.0f}",
        f"{summary['p95_ms']:.0f}",
        f"{summary['p99_ms']:.0f}",
        f"{cost:.8f}" if cost is not None else "-",
        *(
            [
                f"{summary['environments']} of {summary['max_environments']}",
                f"{summary['cold_starts']} (median {summary['cold_start_median_ms']:.0f} ms)"
                if summary["cold_starts"]
                else "0",
                str(summary["throttles"]),
            ]
            if before is not None
            else []
        ),
    )
    make_console().print(table)
    click.echo(f"chart: {out}/load.png (and load.html); raw: {prefix}_stats*.csv")
    if before is not None:
        click.echo(
            "local mode runs a pool of execution environments like Lambda (one request at a time each, a cold "
            "start for each new one, 429 when all are busy): capacity.reserved_concurrency or "
            "LIFTOFF_LOCAL_MAX_ENVIRONMENTS caps it"
        )
    return summary
