"""`liftoff eval run | augment | gate`: the definition of done, measured.

The exit criteria come from `usecases/<name>.yaml` (the numbers the production alarms use too);
`run` exits 1 when any criterion fails, so CI can gate on it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import sys
from pathlib import Path
from typing import Any

import boto3
import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from liftoff.console import make_console
from liftoff.evals import subject
from liftoff.evals.augment import KINDS, augment
from liftoff.evals.checks import Judge, parse_json
from liftoff.evals.evidence import Evaluated, eval_set_hash, evidence_from_report, git_commit
from liftoff.evals.report import GUARDRAIL_NOT_APPLIED
from liftoff.evals.runner import Run, cheapest_passing, failure_lines, run_cases, target_failure
from liftoff.evals.targets import BedrockTarget, HttpTarget
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import EvalCase, Suite, load_cases, load_suite, read_cases, suite_dir
from liftoff.local import runtime
from liftoff.options import use_case_option
from service.dal.prompt_store import PromptStore

console = make_console()
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
    "run",
    help="Run the eval set against a target, write reports/<use_case>/<time>/, gate on the criteria. A run of a "
    "published version (--version, --alias; default: what live serves) records its result in that registry: "
    "`liftoff prompts promote` and `canary` need a passing record.",
)
@use_case_option()
@click.option(
    "--target",
    type=click.Choice(["local", "api", "bedrock"]),
    default="local",
    show_default=True,
    help="local: the local API (started if needed); api: a deployed stage; bedrock: Converse directly.",
)
@click.option("--version", "version", type=click.IntRange(1), default=None, help="Evaluate this published version.")
@click.option(
    "--alias",
    default=None,
    help="Evaluate the version this alias serves (default: live). A canary on it is not mixed in.",
)
@click.option(
    "--working-copy",
    is_flag=True,
    help="bedrock target: evaluate prompts/NAME/ID.yaml as it is now, unpublished (the default with no "
    "--version/--alias there).",
)
@click.option(
    "--pending",
    is_flag=True,
    help="Evaluate the version published since live (what a deploy just published), pinned; nothing pending: "
    "exit 0. The deploy gate.",
)
@click.option("--prompt", "prompt_id", default=None, help="The prompt evaluated (default: suite.yaml's prompt_id).")
@click.option("--model", "models", multiple=True, help="bedrock target: a model id; repeat to compare models.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--limit", default=None, type=click.IntRange(1), help="Run a fixed sample of this many cases.")
@click.option("--tag", "tags", multiple=True, help="Only cases with this tag (repeatable).")
@click.option("--file", "files", multiple=True, help="Only this file of evals/NAME/ (repeatable).")
@click.option(
    "--stage", default=None, help="The deployed stage: its API (api target), registry and guardrail (URL and key)."
)
@click.option("--url", default=None, help="api target: the invoke URL (instead of --stage).")
@click.option("--api-key", default=None, envvar="LIFTOFF_API_KEY", help="api target: the key (or $LIFTOFF_API_KEY).")
@click.option("--simulator", is_flag=True, help="bedrock target: use the local Bedrock simulator (no AWS).")
@click.option(
    "--gate",
    is_flag=True,
    help="Print only the verdict and the criteria that failed (for CI). Exit code: 0 PASS, 1 FAIL, 3 target unusable "
    "(every case got the same error and no answer: a wrong key or URL, nothing listening; no record is kept).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Report folder (default reports/...).")
@click.option(
    "--keep-local", is_flag=True, help="Leave local mode running if this command starts it (default: stop it)."
)
def run_command(  # noqa: PLR0917 - one parameter per click option
    use_case,
    target,
    version,
    alias,
    working_copy,
    pending,
    prompt_id,
    models,
    concurrency,
    limit,
    tags,
    files,
    stage,
    url,
    api_key,
    simulator,
    gate,
    out,
    keep_local,
) -> None:
    from liftoff.foundation.usecases import load_use_case

    try:
        config = load_use_case(use_case)
        suite = load_suite(use_case)
        cases = select_cases(load_cases(use_case, files=list(files) or None), tags=tags, limit=limit)
        whole = load_cases(use_case) if files or tags or limit else cases
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    prompt_id = prompt_id or suite.prompt_id
    cases = [c for c in cases if (c.prompt_id or suite.prompt_id) == prompt_id]
    if not cases:
        raise click.ClickException(f"no case of prompt `{prompt_id}` matches --tag / --file / --prompt")
    sample = len(cases) < sum((c.prompt_id or suite.prompt_id) == prompt_id for c in whole)
    if models and target != "bedrock":
        raise click.ClickException(
            "--model needs --target bedrock: through an API the model is the prompt version's; "
            "compare models with `--target bedrock --model A --model B` (add --simulator to stay local)"
        )
    choice = Choice(target, version, alias, working_copy, stage, simulator, pending, url, sample)
    with contextlib.ExitStack() as stack:
        state = (
            stack.enter_context(runtime.running_for(use_case, keep=keep_local, say=lambda m: click.echo(m, err=True)))
            if choice.needs_local
            else None
        )
        code = _run(
            use_case, config, suite, cases, choice, prompt_id, models, concurrency, url, api_key, gate, out, state
        )
    sys.exit(code)


@dataclasses.dataclass(frozen=True)
class Choice:
    """What `eval run` was asked to evaluate, and where (checked before anything starts)."""

    target: str
    version: int | None
    alias: str | None
    working_copy: bool
    stage: str | None
    simulator: bool
    pending: bool = False
    url: str | None = None
    sample: bool = False  # --limit, --tag or --file left cases of the prompt out

    def __post_init__(self):
        if self.url is not None and self.target != "api":
            raise click.UsageError("--url is for --target api")
        if self.url is not None and self.stage is not None:
            # the answers would come from one API and be recorded as evidence in another stage's registry
            raise click.UsageError("give --url or --stage, not both: --stage finds its own API's URL and key")
        if self.version is not None and self.alias is not None:
            raise click.UsageError("give --version or --alias, not both")
        if self.pending and (self.version is not None or self.alias is not None or self.working_copy):
            raise click.UsageError("--pending picks the version itself: give no --version, --alias or --working-copy")
        if self.pending and self.target != "local" and self.stage is None:
            raise click.UsageError("--pending reads the stage's registry: give --stage")
        if self.working_copy and (self.version is not None or self.alias is not None):
            raise click.UsageError("--working-copy evaluates the file as it is: give no --version or --alias with it")
        if self.working_copy and self.target != "bedrock":
            raise click.UsageError(
                "the local and api targets serve published versions only: publish the file "
                "(`liftoff prompts publish`) and pass --version N, or evaluate it unpublished with "
                "`--target bedrock --working-copy` (add --simulator to stay local)"
            )
        if self.simulator and self.target != "bedrock":
            raise click.UsageError("--simulator is for --target bedrock (the local target always uses it)")

    @property
    def simulated(self) -> bool:
        return self.target == "local" or self.simulator

    @property
    def unpublished(self) -> bool:
        """The bedrock target evaluates the working copy unless a version or alias is named."""
        return self.target == "bedrock" and self.version is None and self.alias is None and not self.pending

    @property
    def needs_local(self) -> bool:
        # the local registry holds the version when no stage is named
        return self.simulated or (not self.unpublished and self.stage is None and self.target == "bedrock")


def _registry(choice: Choice, use_case: str, state) -> tuple[PromptStore | None, str]:
    """The registry holding the evaluated version (and receiving the record), and its name for people."""
    from liftoff.prompts_cli import open_store

    if choice.unpublished:
        return None, "the working copy"
    if choice.stage is not None:
        return open_store(use_case, choice.stage), f"the {choice.stage} registry"
    if state is not None:
        return PromptStore(runtime.local_table(state, state.table_name), use_case), "the local registry"
    return None, "no registry (pass --stage)"


def _guardrail(choice: Choice, config, outputs: dict[str, str]) -> tuple[tuple[str, str] | None, bool]:
    """(id, version) of the guardrail the answers pass through, and whether one is applied at all."""
    if not config.config.guardrail.enabled:
        return None, False
    if choice.simulated:
        return (runtime.LOCAL_GUARDRAIL_ID, "1"), True  # the simulator plays the use case's guardrail rules
    deployed = (outputs["GuardrailId"], outputs["GuardrailVersion"]) if "GuardrailId" in outputs else None
    if choice.target == "api":
        return deployed, True  # the deployed function attaches it to every call
    return deployed, deployed is not None


def _run(  # noqa: PLR0917 - the run command's options, after local mode is up
    use_case, config, suite, cases, choice: Choice, prompt_id, models, concurrency, url, api_key, gate, out, state
) -> int:
    """The run; its exit code: EXIT_PASS, EXIT_FAIL, or EXIT_TARGET_UNUSABLE (every case errored the same way)."""
    from liftoff.deployed import stack_outputs
    from liftoff.evals.report import previous_report, write_report

    simulated = choice.simulated
    sim_url = state.bedrock_url if simulated else None
    store, where = _registry(choice, use_case, state)
    if choice.pending:
        from liftoff.prompts_cli import pending_versions

        waiting = [r for r in pending_versions(store) if r["prompt_id"] == prompt_id] if store else []
        if not waiting:
            click.echo(f"{use_case}: nothing pending in {where}: live serves the latest version of {prompt_id}")
            return EXIT_PASS
        choice = dataclasses.replace(choice, version=waiting[0]["version"], pending=False)
    evaluating = _subject(choice, config, store, where, prompt_id)
    outputs = stack_outputs(use_case, choice.stage, required="PromptsTableName") if choice.stage else {}
    guardrail, applied = _guardrail(choice, config, outputs)
    targets, pins = _targets(
        use_case, choice, state, evaluating, prompt_id, models, url, api_key, guardrail if applied else None
    )
    warmed: list[float] = []
    if choice.target == "local":  # local cold starts are the laptop's: start the environments first
        warmed = targets[0][1].warm(prompt_id, min(concurrency, len(cases)))
    judge = make_judge(bedrock_client(sim_url), suite.judge.model_id) if suite.judge.enabled else None
    runs = [
        execute(
            cases,
            suite,
            t,
            config.config.exit_criteria,
            concurrency=concurrency,
            judge=judge,
            label=label,
            quiet=gate,
            exclude_cold=choice.target == "local",
            warmup_cold_ms=warmed,
        )
        for label, t in targets
    ]
    what = evaluated(
        use_case,
        evaluating,
        prompt_id=prompt_id,
        pinned=pins.get(prompt_id),
        model_id=", ".join(models) if models else (evaluating.spec.model_id if evaluating else _served_model(runs)),
        guardrail=guardrail,
        applied=applied,
        target=choice.target,
        simulated=simulated,
        cases=cases,
        stage=choice.stage,
        sample=choice.sample,
    )
    report = write_report(
        use_case,
        runs,
        config.config.exit_criteria,
        simulated=simulated,
        evaluated=what,
        directory=out,
        cases=cases,
        previous=previous_report(use_case, prompt_id),
    )
    passed = cheapest_passing(runs) is not None if len(runs) > 1 else runs[0].summary.verdict
    unusable = next((found for run in runs if (found := target_failure(run.results))), None)
    if unusable:
        # nothing was answered: a misconfigured target, not a model that got every case wrong; no record is kept
        for line in unusable_lines(unusable, choice):
            click.echo(line, err=True)
        click.echo(f"report: {report / 'report.json'}", err=True)
        return EXIT_TARGET_UNUSABLE
    if models and evaluating and set(models) != {evaluating.spec.model_id}:
        # the version runs on its own model: a run on another one says nothing about what it will serve
        recorded = f"not recorded: --model differs from v{evaluating.version}'s model ({evaluating.spec.model_id})"
    else:
        recorded = record(store, report, deployed=choice.stage is not None, where=where)
    if gate:
        label = evaluating.label if evaluating else prompt_id
        failing = [] if passed else failing_criteria(runs)
        because = f": {'; '.join(failing)}" if failing else ""
        click.echo(f"{use_case}: {'PASS' if passed else 'FAIL'} {label}{because} ({report / 'report.json'})")
        if not applied and config.config.guardrail.enabled:
            click.echo(f"WARNING: {GUARDRAIL_NOT_APPLIED}", err=True)
        return EXIT_PASS if passed else EXIT_FAIL
    show(runs, report, simulated=simulated, evaluated=what, note=evaluating.canary_note if evaluating else "")
    if recorded:
        console.print(recorded)
    return EXIT_PASS if passed else EXIT_FAIL


EXIT_PASS, EXIT_FAIL, EXIT_TARGET_UNUSABLE = 0, 1, 3
# what to check when every case failed the same way, by the error's code
TARGET_HINTS = {
    "INVALID_API_KEY": "the API key: --api-key / $LIFTOFF_API_KEY, or the stage's key (--stage reads it)",
    "MISSING_AUTHENTICATION_TOKEN": "the URL: --url must end in /v1/invoke (or use --stage)",
    "ACCESS_DENIED": "the caller's access to the API (IAM auth or the usage plan)",
    "ConnectionError": "that the target is up and reachable: --url / --stage, or `liftoff local status` for local mode",
    "Misconfigured": "the deployed stack's access to Bedrock: `liftoff preflight --stage S` and the function's logs",
    "AccessDeniedException": "model access in this Region (Bedrock console > Model access) and your credentials",
    "SpendCapReached": "the daily spend cap: it refuses every request until 00:00 UTC (budget.daily_cap_usd)",
}


def unusable_lines(error: str, choice: Choice) -> list[str]:
    code = error.split(":", 1)[0]
    hint = TARGET_HINTS.get(code, "the target's configuration (--target, --url, --stage, --api-key)")
    return [
        f"every case failed the same way on the {choice.target} target: {error}",
        f"the target is unusable, so nothing was measured about the model (no record kept); check {hint}",
        f"exit code {EXIT_TARGET_UNUSABLE}: target unusable (1 would be a criterion failed)",
    ]


def failing_criteria(runs: list[Run]) -> list[str]:
    """`accuracy 73.0%, needs >= 85.0%`, one per criterion failed (each model's, when models are compared)."""
    from liftoff.evals.report import fmt

    out = []
    for run in runs:
        prefix = f"{run.summary.model} " if len(runs) > 1 else ""
        for c in run.summary.criteria:
            if not c.passed:
                measured = "not measured" if c.measured is None else fmt(c, c.measured)
                out.append(f"{prefix}{c.name} {measured}, needs {c.comparison} {fmt(c, c.threshold)}")
    return out


def _subject(choice: Choice, config, store: PromptStore | None, where: str, prompt_id: str) -> subject.Subject | None:
    """The prompt version (or working copy) the run evaluates; None: pinned through --url, hash unknown."""
    if choice.unpublished:
        spec = next((p for p in config.prompts if p.prompt_id == prompt_id), None)
        if spec is None:
            raise click.ClickException(f"no prompt file prompts/{config.name}/{prompt_id}.yaml")
        return subject.working_copy(spec)
    if store is None:
        return None
    return subject.published(store, prompt_id, version=choice.version, alias=choice.alias, where=where)


def _targets(  # noqa: PLR0917 - what _run resolved
    use_case, choice: Choice, state, evaluating, prompt_id, models, url, api_key, guardrail
) -> tuple[list[tuple[str, Any]], dict[str, int]]:
    """The targets of the run (one, or one per compared model) and the versions they pin."""
    from liftoff.foundation.pricing import load_pricing, prices_for

    sim_url = state.bedrock_url if choice.simulated else None
    pins = {prompt_id: evaluating.version} if evaluating and evaluating.version else {}
    if choice.target == "local":
        targets = [("", HttpTarget(state.invoke_url, state.api_key, name="local API", versions=pins))]
    elif choice.target == "api":
        if url is None:
            if choice.stage is None:
                raise click.ClickException("--target api needs --stage, or --url and --api-key")
            url, api_key = api_endpoint(use_case, choice.stage)
        if not api_key:
            raise click.ClickException("--url needs --api-key (or $LIFTOFF_API_KEY)")
        if choice.version is not None:
            pins = {prompt_id: choice.version}
        targets = [("", HttpTarget(url, api_key, name=f"API {choice.stage or url}", versions=pins))]
    else:
        if evaluating.spec.retrieval is not None:
            # Converse alone has no knowledge base to fill {{context}} from: the answers would measure nothing
            raise click.ClickException(
                f"prompt `{prompt_id}` retrieves from the knowledge base, which the bedrock target does not "
                "query: evaluate it through an API that retrieves (--target local, or --target api --stage S)"
            )
        wanted = list(models) or [None]
        pricing = load_pricing()
        try:
            prices = prices_for([m or evaluating.spec.model_id for m in wanted], pricing)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        client = bedrock_client(sim_url)
        prompts = {evaluating.prompt_id: evaluating.spec}
        targets = [
            (
                m or "",
                BedrockTarget(
                    client,
                    prompts,
                    model_id=m,
                    prices=prices,
                    guardrail=guardrail,
                    guardrail_prices=pricing.guardrails.per_unit(),
                ),
            )
            for m in wanted
        ]

    return targets, pins


def _served_model(runs: list[Run]) -> str:
    return runs[0].summary.model if len(runs) == 1 else ", ".join(r.summary.model for r in runs)


def evaluated(
    use_case: str,
    evaluating: subject.Subject | None,
    *,
    prompt_id: str,
    pinned: int | None,
    model_id: str,
    guardrail: tuple[str, str] | None,
    applied: bool,
    target: str,
    simulated: bool,
    cases: list[EvalCase],
    stage: str | None,
    sample: bool = False,
) -> Evaluated:
    return Evaluated(
        use_case=use_case,
        prompt_id=prompt_id,
        version=evaluating.version if evaluating else pinned,
        alias=evaluating.alias if evaluating else None,
        content_hash=evaluating.content_hash if evaluating else None,
        model_id=model_id,
        guardrail={"id": guardrail[0], "version": guardrail[1]} if guardrail else None,
        guardrail_applied=applied,
        target=target,
        simulated=simulated,
        git_commit=git_commit(),
        eval_set_hash=eval_set_hash(cases),
        stage=stage,
        sample=sample,
    )


def record(store: PromptStore | None, report: Path, *, deployed: bool, where: str) -> str:
    """Keep the run's result in the registry it evaluated a version of; says what it did ('' if nothing)."""
    path = report / "report.json"
    evidence = evidence_from_report(json.loads(path.read_text()), str(path))
    if store is None or evidence is None:
        return ""
    if deployed and not evidence.real_model:
        return f"not recorded in {where}: a deployed registry keeps evidence from a real model only"
    store.record_evidence(evidence)
    return (
        f"recorded in {where}: {evidence.prompt_id} v{evidence.version} (sha256:{evidence.content_hash[:12]}) "
        f"{'PASS' if evidence.passed else 'FAIL'}"
        + (" (Bedrock simulator)" if evidence.simulated else "")
        + (" (a sample of the eval set: a deployed stage does not count it)" if evidence.sample else "")
    )


def demo_eval(use_case: str, state: runtime.LocalState, *, concurrency: int = 8) -> bool:
    """The demo's last step: `eval run` of what live serves through the running local API (recorded in
    the local registry, like any run); True on PASS."""
    from liftoff.foundation.usecases import load_use_case

    config, suite = load_use_case(use_case), load_suite(use_case)
    cases = [c for c in load_cases(use_case) if (c.prompt_id or suite.prompt_id) == suite.prompt_id]
    choice = Choice("local", None, None, False, None, False)
    return (
        _run(use_case, config, suite, cases, choice, suite.prompt_id, (), concurrency, None, None, False, None, state)
        == EXIT_PASS
    )


def execute(cases, suite: Suite, target, criteria, *, concurrency, judge, label, quiet: bool, **latency: Any) -> Run:
    """Run the cases (a progress bar unless `quiet`); `latency`: exclude_cold, warmup_cold_ms."""
    if quiet:
        return run_cases(
            cases, suite, target, criteria, concurrency=concurrency, judge=judge, model_label=label, **latency
        )
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
            cases,
            suite,
            target,
            criteria,
            concurrency=concurrency,
            judge=judge,
            on_result=tick,
            model_label=label,
            **latency,
        )


def evaluated_lines(what: Evaluated) -> list[str]:
    """What was evaluated, for the terminal (the report's md and html say the same)."""
    from liftoff.evals.report import evaluated_text

    return evaluated_text(what.to_dict())


def show(runs: list[Run], report: Path, *, simulated: bool, evaluated: Evaluated, note: str = "") -> None:
    from liftoff.evals.report import RETRIEVAL_COLUMNS, SIMULATOR_NOTE, latency_text, retrieval_note, retrieval_rows

    for line in evaluated_lines(evaluated):
        console.print(f"[bold red]{line}[/]" if line.startswith(GUARDRAIL_NOT_APPLIED) else line, highlight=False)
    if note:
        console.print(f"[yellow]note[/]: {note}")
    for run in runs:
        s = run.summary
        console.print(
            f"{s.cases} cases in {s.duration_s:.1f}s: {s.passed} pass, {s.failed} fail, {s.errors} error "
            f"(errors are cases with no answer after retries, not wrong answers)"
        )
        title = f"{s.model or s.target}: {'PASS' if s.verdict else 'FAIL'}"
        console.print(verdict_table(run, title))
        console.print(latency_text(s), highlight=False)
        retrieval = retrieval_rows(s)
        if retrieval:
            table = Table(title="retrieval (overall, then per tag)")
            for column in RETRIEVAL_COLUMNS:
                table.add_column(column, justify="left" if column == "tag" else "right")
            for row in retrieval:
                table.add_row(*row)
            console.print(table)
            console.print(retrieval_note(s), highlight=False)
        lines = failure_lines(run.results)
        if lines:
            shown = f"the first {len(lines)}" if s.failed + s.errors > len(lines) else "the"
            console.print(f"{shown} failing or erroring cases (all of them in the report):")
            for line in lines:
                console.print(f"  {escape(line)}", highlight=False)
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
@use_case_option()
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
    from liftoff.foundation.usecases import load_use_case

    try:
        suite = load_suite(use_case)
        spec = next(p for p in load_use_case(use_case).prompts if p.prompt_id == suite.prompt_id)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    limits = {v.name: v.max_length for v in spec.variables}  # variants fit the prompt's own limits
    variants = augment(clean, seed=seed, per_case=per_case, variables=suite.augment_variables, limits=limits)
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
@use_case_option()
@click.option("--report", "report_path", type=click.Path(path_type=Path, exists=True), default=None)
def gate_command(use_case: str, report_path: Path | None) -> None:
    from liftoff.evals.report import latest_report

    path = report_path or latest_report(use_case)
    if path is None:
        raise click.ClickException(f"no report for {use_case}: run `liftoff eval run --use-case {use_case}` first")
    if path.is_dir():
        path = path / "report.json"
    document = json.loads(path.read_text())
    if document.get("evaluated"):  # reports written before it existed have none
        from liftoff.evals.report import evaluated_text

        click.echo(evaluated_text(document["evaluated"])[0])
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
@use_case_option()
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
    from liftoff.foundation.usecases import load_use_case
    from service.dal.capture_store import CaptureStore

    window = timedelta(seconds=parse_since(since))  # a bad value is a usage error naming the format
    capturing = load_use_case(use_case).config.capture.enabled
    if stage is None:
        from liftoff.deployed import require_local

        state = require_local(use_case, "pass --stage to read a deployed stack's captures")
        table = runtime.local_table(state, state.capture_table_name or runtime.capture_table_name(use_case))
        capturing = state.capture
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
    console.print(summary)
    target = f"evals/{use_case}/{HARVEST_FILE}"
    if result.written:
        click.echo(
            f"wrote {len(result.written)} case(s) to {target}; review them, then `liftoff eval run` includes them"
        )
    elif not capturing:
        how = (
            f"restart local mode with it on: liftoff local down --use-case {use_case} && "
            f"LIFTOFF_LOCAL_CAPTURE=true liftoff local up --use-case {use_case}"
            if stage is None
            else f"set capture.enabled: true in usecases/{use_case}.yaml and deploy"
        )
        click.echo(
            f"nothing new for {target}: capture is off for {use_case} ({'this local mode' if stage is None else stage}), "
            f"so ratings are kept without the request's text and no case can be built from them; to capture "
            f"requests (PII-redacted, for capture.ttl_days), {how}"
        )
    else:
        click.echo(f"nothing new for {target}")
