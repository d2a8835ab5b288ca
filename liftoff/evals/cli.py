"""`liftoff eval run | augment | gate`: the definition of done, measured.

The exit criteria come from `usecases/<name>.yaml` (the numbers the production alarms use too);
`run` exits 1 when any criterion fails, so CI can gate on it.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
from pathlib import Path

import boto3
import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from liftoff.errors import ConfigError
from liftoff.evals.augment import KINDS, augment
from liftoff.evals.cases import EvalCase, Suite, load_cases, load_suite, read_cases, suite_dir
from liftoff.evals.checks import Judge, parse_json
from liftoff.evals.runner import Run, cheapest_passing, run_cases
from liftoff.evals.targets import BedrockTarget, HttpTarget
from liftoff.local import runtime

console = Console(width=140)
GENERATED_FILE = "generated.jsonl"
JUDGE_SYSTEM = (
    "You grade an assistant's answer against a rubric. Reply with one JSON object and nothing else: "
    '{"score": <integer 1-5, 5 = fully meets the rubric>, "reason": "<one sentence>"}'
)


# -- building blocks -----------------------------------------------------------------------------


def select_cases(cases: list[EvalCase], *, tags: tuple[str, ...], limit: int | None) -> list[EvalCase]:
    """Cases with any of `tags` (all when none given); `limit` takes a fixed sample, in file order,
    so a quick run still covers every kind of case."""
    chosen = [c for c in cases if not tags or set(tags) & set(c.tags)]
    if limit is not None and limit < len(chosen):
        keep = set(random.Random(0).sample(range(len(chosen)), limit))
        chosen = [c for i, c in enumerate(chosen) if i in keep]
    return chosen


def bedrock_client(endpoint_url: str | None):
    if endpoint_url is None:
        return boto3.client("bedrock-runtime")
    return boto3.client("bedrock-runtime", **runtime.local_endpoint(endpoint_url))


def make_judge(client, model_id: str) -> Judge:
    from service.dal.model_client import ModelClient
    from service.models.errors import ServiceError

    model = ModelClient(client)

    def judge(rubric: str, output: str, source: dict[str, str] | None = None) -> tuple[float, str]:
        given = "".join(f"<input name={name!r}>\n{value}\n</input>\n" for name, value in (source or {}).items())
        try:
            reply = model.converse(
                model_id=model_id,
                system=JUDGE_SYSTEM,
                user_text=f"{given}<rubric>\n{rubric}\n</rubric>\n<answer>\n{output}\n</answer>",
                inference={"maxTokens": 200, "temperature": 0.0},
            )
            verdict = parse_json(reply.text)
            return float(verdict["score"]), str(verdict.get("reason", ""))
        except (ServiceError, ValueError, KeyError, TypeError) as exc:
            return 0.0, f"judge failed: {exc}"

    return judge


def api_endpoint(use_case: str, stage: str) -> tuple[str, str]:
    from liftoff.deployed import stack_outputs

    outputs = stack_outputs(use_case, stage, required="InvokeUrl")
    if "ApiKeyId" not in outputs:
        raise click.ClickException(
            f"the {stage} API of {use_case} does not use API keys (api.auth is iam or cognito); "
            "the eval's API target speaks API-key auth only: use --target bedrock, or a stage with api_key"
        )
    key = boto3.client("apigateway").get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)["value"]
    return outputs["InvokeUrl"], key


# -- output --------------------------------------------------------------------------------------


def verdict_table(run: Run, title: str) -> Table:
    table = Table(title=title)
    for column in ("exit criterion", "required", "measured", "verdict"):
        table.add_column(column)
    from liftoff.evals.report import fmt

    for c in run.summary.criteria:
        table.add_row(
            c.name,
            f"{c.comparison} {fmt(c, c.threshold)}",
            fmt(c, c.measured),
            "[green]PASS[/]" if c.passed else "[red]FAIL[/]",
        )
    return table


def comparison_table(runs: list[Run]) -> Table:
    table = Table(title="model comparison")
    for column in ("model", "accuracy", "p95 ms", "$ / request", "error rate", "verdict"):
        table.add_column(column)
    for r in runs:
        s = r.summary
        table.add_row(
            s.model,
            f"{s.accuracy or 0:.1%}",
            f"{s.latency_p95_ms or 0:.0f}",
            f"{s.cost_avg_usd or 0:.8f}",
            f"{s.error_rate:.1%}",
            "[green]PASS[/]" if s.verdict else "[red]FAIL[/]",
        )
    return table


# -- commands ------------------------------------------------------------------------------------


@click.group(help="Evaluate a use case against its exit criteria (usecases/NAME.yaml) with its eval set (evals/NAME/).")
def eval_group() -> None:
    pass


@eval_group.command(
    "run", help="Run the eval set against a target, write reports/<use_case>/<time>/, gate on the criteria."
)
@click.option("--use-case", default="support-triage", show_default=True)
@click.option(
    "--target",
    type=click.Choice(["local", "api", "bedrock"]),
    default="local",
    show_default=True,
    help="local: the local API (started if needed); api: a deployed stage; bedrock: Converse directly.",
)
@click.option("--model", "models", multiple=True, help="bedrock target: a model id; repeat to compare models.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--limit", default=None, type=click.IntRange(1), help="Run a fixed sample of this many cases.")
@click.option("--tag", "tags", multiple=True, help="Only cases with this tag (repeatable).")
@click.option("--file", "files", multiple=True, help="Only this file of evals/NAME/ (repeatable).")
@click.option("--stage", default=None, help="api target: the deployed stage (URL and key from its stack).")
@click.option("--url", default=None, help="api target: the invoke URL (instead of --stage).")
@click.option("--api-key", default=None, envvar="LIFTOFF_API_KEY", help="api target: the key (or $LIFTOFF_API_KEY).")
@click.option("--simulator", is_flag=True, help="bedrock target: use the local Bedrock simulator (no AWS).")
@click.option("--gate", is_flag=True, help="Print only the verdict (for CI); the exit code says PASS (0) or FAIL (1).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Report folder (default reports/...).")
@click.option(
    "--keep-local", is_flag=True, help="Leave local mode running if this command starts it (default: stop it)."
)
def run_command(  # noqa: PLR0917 - one parameter per click option
    use_case, target, models, concurrency, limit, tags, files, stage, url, api_key, simulator, gate, out, keep_local
) -> None:
    from liftoff.usecases import load_use_case

    try:
        config = load_use_case(use_case)
        suite = load_suite(use_case)
        cases = select_cases(load_cases(use_case, files=list(files) or None), tags=tags, limit=limit)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not cases:
        raise click.ClickException("no case matches --tag / --file")
    if models and target != "bedrock":
        raise click.ClickException(
            "--model needs --target bedrock: through an API the model is the prompt version's; "
            "compare models with `--target bedrock --model A --model B` (add --simulator to stay local)"
        )
    simulated = target == "local" or simulator
    with contextlib.ExitStack() as stack:
        state = (
            stack.enter_context(runtime.running_for(use_case, keep=keep_local, say=lambda m: click.echo(m, err=True)))
            if simulated
            else None
        )
        passed = _run(
            use_case, config, suite, cases, target, models, concurrency, stage, url, api_key, gate, out, state
        )
    sys.exit(0 if passed else 1)


def _run(  # noqa: PLR0917 - the run command's options, after local mode is up
    use_case, config, suite, cases, target, models, concurrency, stage, url, api_key, gate, out, state
) -> bool:
    from liftoff.evals.report import write_report
    from liftoff.pricing import load_pricing, prices_for

    simulated = state is not None
    sim_url = state.bedrock_url if simulated else None
    if target == "local":
        targets = [("", HttpTarget(state.invoke_url, state.api_key, name="local API"))]
    elif target == "api":
        if url is None:
            if stage is None:
                raise click.ClickException("--target api needs --stage, or --url and --api-key")
            url, api_key = api_endpoint(use_case, stage)
        if not api_key:
            raise click.ClickException("--url needs --api-key (or $LIFTOFF_API_KEY)")
        targets = [("", HttpTarget(url, api_key, name=f"API {stage or url}"))]
    else:
        wanted = list(models) or [None]
        try:
            prices = prices_for([m or p.model_id for m in wanted for p in config.prompts], load_pricing())
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        client = bedrock_client(sim_url)
        prompts = {p.prompt_id: p for p in config.prompts}
        targets = [(m or "", BedrockTarget(client, prompts, model_id=m, prices=prices)) for m in wanted]

    judge = make_judge(bedrock_client(sim_url), suite.judge.model_id) if suite.judge.enabled else None
    runs = [
        execute(
            cases, suite, t, config.config.exit_criteria, concurrency=concurrency, judge=judge, label=label, quiet=gate
        )
        for label, t in targets
    ]
    report = write_report(use_case, runs, config.config.exit_criteria, simulated=simulated, directory=out)
    passed = cheapest_passing(runs) is not None if len(runs) > 1 else runs[0].summary.verdict
    if gate:
        click.echo(f"{use_case}: {'PASS' if passed else 'FAIL'} ({report / 'report.json'})")
    else:
        show(runs, report, simulated=simulated)
    return passed


def demo_eval(use_case: str, state: runtime.LocalState, *, concurrency: int = 8) -> bool:
    """The demo's last step: the whole eval set through the running local API; True on PASS."""
    from liftoff.evals.report import write_report
    from liftoff.usecases import load_use_case

    criteria = load_use_case(use_case).config.exit_criteria
    suite = load_suite(use_case)
    target = HttpTarget(state.invoke_url, state.api_key, name="local API")
    run = execute(
        load_cases(use_case), suite, target, criteria, concurrency=concurrency, judge=None, label="", quiet=False
    )
    show([run], write_report(use_case, [run], criteria, simulated=True), simulated=True)
    return run.summary.verdict


def execute(cases, suite: Suite, target, criteria, *, concurrency, judge, label, quiet: bool) -> Run:
    if quiet:
        return run_cases(cases, suite, target, criteria, concurrency=concurrency, judge=judge, model_label=label)
    columns = (
        TextColumn(f"[bold]{label or target.name}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[errors]} errors[/]"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("eval", total=len(cases), errors=0)
        errors = [0]

        def tick(result) -> None:
            errors[0] += result.status == "error"
            progress.update(task, advance=1, errors=errors[0])

        return run_cases(
            cases, suite, target, criteria, concurrency=concurrency, judge=judge, on_result=tick, model_label=label
        )


def show(runs: list[Run], report: Path, *, simulated: bool) -> None:
    from liftoff.evals.report import SIMULATOR_NOTE

    for run in runs:
        s = run.summary
        console.print(
            f"{s.cases} cases in {s.duration_s:.1f}s: {s.passed} pass, {s.failed} fail, {s.errors} error "
            f"(errors are cases with no answer after retries, not wrong answers)"
        )
        title = f"{s.model or s.target}: {'PASS' if s.verdict else 'FAIL'}"
        console.print(verdict_table(run, title))
    if len(runs) > 1:
        console.print(comparison_table(runs))
        best = cheapest_passing(runs)
        console.print(
            f"cheapest model meeting every criterion: [bold]{best.summary.model}[/]"
            if best
            else "[red]no model meets every criterion[/]"
        )
    if simulated:
        console.print(f"[yellow]note[/]: {SIMULATOR_NOTE}")
    console.print(f"report: {report}/report.html (also report.md, report.json, results.jsonl)")


@eval_group.command(
    "augment", help="Write evals/NAME/generated.jsonl: noisy, adversarial and PII variants of the clean cases."
)
@click.option("--use-case", default="support-triage", show_default=True)
@click.option("--seed", default=7, show_default=True, help="Same seed, same file.")
@click.option("--per-case", default=3, show_default=True, type=click.IntRange(1, len(KINDS)))
@click.option("--check", is_flag=True, help="Do not write: fail when the committed file is not what this would write.")
def augment_command(use_case: str, seed: int, per_case: int, check: bool) -> None:
    directory = suite_dir(use_case)
    try:
        clean = [
            c
            for path in sorted(directory.glob("*.jsonl"))
            if path.name != GENERATED_FILE
            for c in read_cases(path)
            if "clean" in c.tags
        ]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not clean:
        raise click.ClickException(f"no case tagged `clean` in {directory}/*.jsonl to derive variants from")
    try:
        rewritten = load_suite(use_case).augment_variables
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    variants = augment(clean, seed=seed, per_case=per_case, variables=rewritten)
    text = "".join(v.to_line() + "\n" for v in variants)
    target = directory / GENERATED_FILE
    if check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            raise click.ClickException(f"{target} is stale: run `liftoff eval augment --use-case {use_case}`")
        click.echo(f"{target}: up to date ({len(variants)} variants)")
        return
    target.write_text(text, encoding="utf-8")
    kinds = sorted({v.id.split("~")[1] for v in variants})
    click.echo(f"wrote {len(variants)} variants of {len(clean)} clean cases to {target} ({', '.join(kinds)})")


@eval_group.command("gate", help="Print the verdict of the latest report (or --report) and exit 0 on PASS, 1 on FAIL.")
@click.option("--use-case", default="support-triage", show_default=True)
@click.option("--report", "report_path", type=click.Path(path_type=Path, exists=True), default=None)
def gate_command(use_case: str, report_path: Path | None) -> None:
    from liftoff.evals.report import latest_report

    path = report_path or latest_report(use_case)
    if path is None:
        raise click.ClickException(f"no report for {use_case}: run `liftoff eval run --use-case {use_case}` first")
    if path.is_dir():
        path = path / "report.json"
    document = json.loads(path.read_text())
    for run in document["runs"]:
        failing = [c["name"] for c in run["criteria"] if not c["passed"]]
        click.echo(
            f"{run['model'] or run['target']}: {run['verdict']}" + (f" ({', '.join(failing)})" if failing else "")
        )
    click.echo(f"{use_case}: {document['verdict']} ({path})")
    sys.exit(0 if document["verdict"] == "PASS" else 1)


@eval_group.command(
    "harvest",
    help="Turn rated production requests into candidate cases: evals/NAME/harvested.jsonl (capture.enabled).",
)
@click.option("--use-case", default="support-triage", show_default=True)
@click.option("--stage", default=None, help="Read the deployed stage's capture table (default: local mode).")
@click.option("--since", default="7d", show_default=True, help="How far back the ratings go (m, h, d).")
@click.option(
    "--rating",
    type=click.Choice(["bad", "good", "any"]),
    default="bad",
    show_default=True,
    help="Which ratings to harvest.",
)
def harvest_command(use_case: str, stage: str | None, since: str, rating: str) -> None:
    from datetime import timedelta

    from liftoff.cost_report import parse_since
    from liftoff.evals.harvest import HARVEST_FILE, harvest
    from service.dal.capture_store import CaptureStore

    window = timedelta(seconds=parse_since(since))  # a bad value is a usage error naming the format
    if stage is None:
        from liftoff.deployed import require_local

        state = require_local(use_case, "pass --stage to read a deployed stack's captures")
        table = runtime.local_table(state, state.capture_table_name or runtime.capture_table_name(use_case))
    else:
        from liftoff.deployed import stack_outputs

        outputs = stack_outputs(use_case, stage, required="CaptureTableName")
        table = boto3.resource("dynamodb").Table(outputs["CaptureTableName"])
    ratings = ("bad", "good") if rating == "any" else (rating,)
    try:
        result = harvest(CaptureStore(table), use_case, ratings=ratings, since=window)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    summary = Table(title=f"harvest: {use_case}, ratings {'/'.join(ratings)} in the last {since}")
    summary.add_column("")
    summary.add_column("requests", justify="right")
    for name, count in sorted(result.counts.items()):
        summary.add_row(name, str(count))
    Console(width=120).print(summary)
    target = f"evals/{use_case}/{HARVEST_FILE}"
    if result.written:
        click.echo(
            f"wrote {len(result.written)} case(s) to {target}; review them, then `liftoff eval run` includes them"
        )
    else:
        click.echo(f"nothing new for {target}")
