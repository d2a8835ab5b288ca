"""The `liftoff` command: local mode and the demo (`liftoff --help`)."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape

from liftoff import PROJECT_ENV, REPO_ROOT, find_project_root, is_project, named_project
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import DEFAULT_USE_CASE_KEY, HOW_TO_CHOOSE, USE_CASE_ENV, load_use_case
from liftoff.local import runtime
from liftoff.options import use_case_option

# What a command that needs AWS says when the machine has no AWS configuration (it dumped an 80-line traceback
# ending in NoRegionError): the botocore exception names, what is missing, and how to set it.
AWS_SETUP_ERRORS = {
    "NoRegionError": "no AWS Region is set: export AWS_DEFAULT_REGION=us-east-1 (your Region; boto3 does not read AWS_REGION), or set `region` in your "
    "profile (aws configure)",
    "NoCredentialsError": "no AWS credentials found: sign in (aws sso login --profile NAME, then export "
    "AWS_PROFILE=NAME) or configure them (aws configure); local mode needs none: drop --stage / --target bedrock",
    "ProfileNotFound": "the AWS profile named by AWS_PROFILE does not exist: `aws configure list-profiles` lists "
    "the ones you have",
    "TokenRetrievalError": "the AWS SSO session has expired: aws sso login --profile $AWS_PROFILE",
    "SSOTokenLoadError": "the AWS SSO session has expired: aws sso login --profile $AWS_PROFILE",
    "UnauthorizedSSOTokenError": "the AWS SSO session has expired: aws sso login --profile $AWS_PROFILE",
}


def aws_setup_message(exc: BaseException) -> str | None:
    """What to tell a person for an AWS configuration error (None for any other exception)."""
    for kind in type(exc).__mro__:
        if kind.__name__ in AWS_SETUP_ERRORS and kind.__module__.startswith("botocore"):
            return (
                f"AWS is not set up on this machine: {AWS_SETUP_ERRORS[kind.__name__]}. (`liftoff doctor` checks it.)"
            )
    return None


class LiftoffGroup(click.Group):
    """The `liftoff` group: every subcommand that calls AWS without a configuration says what is missing."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = aws_setup_message(exc)
            if message is None:
                raise
            raise click.ClickException(message) from exc


@click.group(
    cls=LiftoffGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Liftoff: take a GenAI proof of concept to production on Amazon Bedrock.\n\n"
    "Run it inside a Liftoff project: it works on the nearest folder at or above the current one "
    "that holds cdk.json and usecases/.",
)
@click.version_option(package_name="liftoff", prog_name="liftoff", message="%(prog)s %(version)s")
def main() -> None:
    named = named_project()
    if named is not None and not is_project(named):
        raise click.UsageError(
            f"{PROJECT_ENV}={named} is not a Liftoff project: it needs cdk.json and usecases/. "
            f"Point it at your clone of the template, or unset {PROJECT_ENV} to use the folder you stand in"
        )
    if named is None and find_project_root() is None:
        raise click.UsageError(
            "not inside a Liftoff project: no folder from here up holds cdk.json and usecases/. "
            "cd into your clone of the template (or create one: git clone <template> my-project)"
        )


def _confirm(question: str, action: str) -> None:
    """Ask before a change to the project's files; without a terminal, ask for --yes instead of guessing."""
    if not sys.stdin.isatty():
        raise click.UsageError(f"not a terminal, so nothing was asked: pass --yes to {action}")
    click.confirm(question, abort=True)


@main.group(help="Run the system locally: moto DynamoDB, a Bedrock simulator and the real handler behind a local API.")
def local() -> None:
    pass


@local.command("up", help="Start local mode in the background and print where it listens.")
@use_case_option()
@click.option("--json", "as_json", is_flag=True, help="Print the connection details as JSON.")
@click.option(
    "--persist",
    is_flag=True,
    help="Keep the prompt registry (versions, aliases, history, eval evidence) in .liftoff/registry/ across "
    "`local down` and the next `local up --persist`. Without it, local state lives in memory and is lost on stop.",
)
def local_up(use_case: str, as_json: bool, persist: bool) -> None:
    try:
        state = runtime.up(use_case, persist=persist)
    except (ConfigError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"invoke_url": state.invoke_url, "api_key": state.api_key, "use_case": state.use_case}))
        return
    loaded = load_use_case(use_case)
    prompt = loaded.prompts[0]
    example = {"prompt_id": prompt.prompt_id, "variables": {v.name: "..." for v in prompt.variables}}
    click.echo(f"local mode is up for {state.use_case}")
    click.echo(f"  invoke: {state.invoke_url}")
    click.echo(f"  key:    {state.api_key}")
    if loaded.config.knowledge:
        from liftoff.local import knowledge_base

        served = knowledge_base.status(loaded)
        click.echo(
            f"  kb:     {served.knowledge_base_id}: {served.documents} documents, {served.chunks} chunks, ranked "
            f"{served.label} (local recall says nothing about Titan embeddings)"
        )
    click.echo(
        f"  try:    curl -s -X POST {state.invoke_url} -H 'x-api-key: {state.api_key}' "
        f"-H 'Content-Type: application/json' -d '{json.dumps(example)}'"
    )
    click.echo(f"  rate:   POST {state.api_url}/v1/feedback with an answer's feedback_token and a rating (good|bad)")
    click.echo(f"  log:    {runtime.log_file(use_case)}")
    click.echo(f"  stop:   liftoff local down --use-case {use_case}")
    if state.persist:
        click.echo(f"  kept:   the prompt registry is saved to {runtime.registry_file(use_case)} when it stops")
    else:
        click.echo("  note:   its state lives in memory: versions you publish are lost on stop (--persist keeps them)")


@local.command("down", help="Stop local mode (of one use case, or of all) and everything it started.")
@use_case_option(every=True)
def local_down(use_case: str | None) -> None:
    click.echo("stopped." if runtime.down(use_case) else "local mode was not running.")


@local.command("status", help="Say which use cases run in local mode, and where.")
def local_status() -> None:
    states = runtime.running()
    for state in states:
        click.echo(f"running: {state.use_case} at {state.invoke_url} (pid {state.pid})")
    if not states:
        click.echo("not running (start it with: liftoff local up --use-case NAME)")
        sys.exit(1)


@main.command(
    help="Synthesize the stacks, run the system locally, send good requests (the use case's own clean eval cases) "
    "and bad ones (built from its prompt's variables), print the results, run its eval set and golden canary."
)
@use_case_option()
@click.option(
    "--prompt-id", default=None, help="The prompt to call (default: the eval suite's, evals/NAME/suite.yaml)."
)
@click.option("--skip-synth", is_flag=True, help="Skip cdk synth (faster).")
def demo(use_case: str, prompt_id: str | None, skip_synth: bool) -> None:
    from liftoff.demo import run_demo

    try:
        sys.exit(run_demo(use_case, prompt_id, skip_synth))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command(
    "rename-use-case",
    help="Rename a use case: its config's name, prompts, eval set, charter agreement, documents, local reports and "
    "the project default. Its stacks' names change with it: destroy a deployed stack first, or it is orphaned.",
)
@click.argument("old")
@click.argument("new")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rename_use_case_command(old: str, new: str, yes: bool) -> None:
    from liftoff.scaffold import check_rename, rename_use_case, shown

    try:  # the names first: a question about stacks is no place to learn that OLD is not a use case
        check_rename(old, new, REPO_ROOT)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not yes:
        click.echo(
            f"renaming {old} to {new} renames its stacks (Liftoff-{old}-STAGE becomes Liftoff-{new}-STAGE): a deployed "
            f"{old} stack is not renamed and nothing would manage it any more; destroy it first, while its config still "
            f"exists: npx cdk destroy -c stage=sandbox -c use_case={old}"
        )
        _confirm("rename it?", "rename it")
    try:
        moved = rename_use_case(old, new, root=REPO_ROOT)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    for source, target in moved:
        if target is None:
            click.echo(f"  {shown(source)}: dropped (local mode's state, kept under the old name)")
        elif source == target:
            click.echo(f"  {source.name}: the project default is now {new}")
        else:
            click.echo(f"  {shown(source)} -> {shown(target)}")
    click.echo(f"renamed {old} to {new}; commit it: git add -A && git commit")


@main.command(
    "use-cases",
    help="List the use cases in usecases/ and say which one a command uses without --use-case, and why "
    f"(--use-case, ${USE_CASE_ENV}, cdk.json's `{DEFAULT_USE_CASE_KEY}`, or the only one).",
)
@click.option("--default", "only_default", is_flag=True, help="Print only the default's name (for scripts).")
@click.option("--names", "only_names", is_flag=True, help="Print only the names, one a line (for scripts).")
def use_cases_command(only_default: bool, only_names: bool) -> None:
    from liftoff.foundation.usecases import NO_USE_CASES, UseCaseNotChosen, choose_use_case, use_case_names

    if only_default and only_names:
        raise click.UsageError("give --default or --names, not both")
    names = use_case_names()
    if not names:  # a script looping over them (--names) would do nothing and succeed
        raise click.ClickException(NO_USE_CASES)
    if only_names:
        click.echo("\n".join(names))
        return
    problem = None
    try:
        chosen = choose_use_case(None)
    except ConfigError as exc:  # no default, or one that names no use case: list them anyway, and say what is wrong
        if only_default:
            raise click.UsageError(str(exc)) from exc
        chosen, problem = None, exc
    if only_default:
        click.echo(chosen.name)
        return
    for name in names:
        click.echo(f"{name}  (default: {chosen.how})" if chosen and chosen.name == name else name)
    if isinstance(problem, UseCaseNotChosen):
        click.echo(f"no default: a command without --use-case refuses; {HOW_TO_CHOOSE}")
    elif problem is not None:
        click.echo(f"the default is wrong: {problem}", err=True)
        raise SystemExit(2)


@main.command("new-use-case", help="Create a use case (config, prompt, eval set) ready to synth, test and run.")
@click.argument("name")
@click.option("--from", "source", default=None, help="Copy this existing use case instead of the starter.")
@click.option("--model", default=None, help="Model id (must be priced in pricing/bedrock.yaml).")
@click.option(
    "--retrieval",
    is_flag=True,
    help="A retrieval use case: answers grounded in documents (knowledge/NAME/, a knowledge base), citing them.",
)
def new_use_case_command(name: str, source: str | None, model: str | None, retrieval: bool) -> None:
    from liftoff.scaffold import new_use_case

    try:
        created = new_use_case(name, source=source, model=model, retrieval=retrieval)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created use case {name}:")
    for path in created.files:
        click.echo(f"  {path.relative_to(REPO_ROOT)}")
    click.echo("next:")
    if retrieval:
        click.echo(
            f"  replace the example documents in knowledge/{name}/ with yours, and the example questions in "
            f"evals/{name}/cases.jsonl with ones they answer (and ones they do not)"
        )
    click.echo(f"  edit the charter: in usecases/{name}.yaml, then liftoff charter agree --use-case {name} --by NAME")
    click.echo(f"  liftoff local up --use-case {name}        # answer locally")
    click.echo(f"  liftoff eval run --use-case {name}        # its eval set against its exit criteria")
    click.echo("  make test                                 # its stack is synthesized and tested with the rest")
    click.echo(f"  npx cdk deploy -c stage=sandbox -c use_case={name}")
    if retrieval:
        click.echo(f"  liftoff kb sync --use-case {name} --stage sandbox   # after you change the documents")


@main.command(
    "remove-use-case",
    help="Remove a use case: its config, prompts, eval set, charter agreement, documents and local reports, and the "
    "project default in cdk.json when it names it (the inverse of new-use-case). A deployed stack is not touched: "
    "destroy it first, while its config still exists.",
)
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove_use_case_command(name: str, yes: bool) -> None:
    from liftoff.scaffold import left_outside, removal_plan, remove_use_case, shown

    try:
        paths = removal_plan(name, REPO_ROOT)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    kept = [
        f"kept {shown(path)}: it is in {path.parent.resolve()}, a linked folder outside the project"
        for path in left_outside(name, REPO_ROOT)
    ]
    if not yes:
        click.echo(f"this removes use case {name}:")
        for path in paths:
            click.echo(f"  {shown(path)}")
        for line in kept:
            click.echo(f"  ({line})")
        click.echo(
            f"a deployed stack is not touched: if {name} is deployed, destroy it first (it needs this config): "
            f"npx cdk destroy -c stage=sandbox -c use_case={name}"
        )
        _confirm("remove these?", "remove it")
    try:
        removed = remove_use_case(name, root=REPO_ROOT)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in kept:
        click.echo(line)
    click.echo(f"removed use case {name} ({len(removed)} paths); commit the removal: git add -A && git commit")


@main.command(
    help="Merge a release of the template (a tag: git fetch upstream --tags first) into this clone. The use cases "
    "you removed stay removed (the release's changes to them are dropped, not conflicts); anything else that "
    "conflicts is listed for you to resolve. Then run make test. (docs/upgrading.md)"
)
@click.argument("ref")
def upgrade(ref: str) -> None:
    from liftoff.upgrade import upgrade as merge_release

    try:
        result = merge_release(ref, root=REPO_ROOT)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if result.up_to_date:
        click.echo(f"already up to date with {ref}")
        return
    if result.kept_removed:
        click.echo(f"kept removed ({len(result.kept_removed)} files of use cases you removed; {ref} changed them):")
        for path in result.kept_removed:
            click.echo(f"  {path}")
    if result.merged:
        click.echo(f"merged {ref} and committed it; next: make test")
        return
    click.echo(f"merging {ref} stopped on {len(result.conflicts)} conflict(s) for you to resolve:")
    for path in result.conflicts:
        click.echo(f"  {path}")
    raise click.ClickException(
        "edit each file (keep your content, take the template's code), `git add` it, `git commit`, then make test; "
        "or give up on this merge: git merge --abort"
    )


@main.command(help="Check the toolchain, and with AWS credentials: the account, model access and the cost tag.")
def doctor() -> None:
    from liftoff.doctor import FAIL, OK, SKIP, run_checks

    checks = run_checks()
    colors = {OK: "green", SKIP: "cyan", FAIL: "red"}
    from rich.table import Table

    from liftoff.console import make_console

    table = Table(title="liftoff doctor")
    for column in ("check", "status", "detail", "what to do"):
        table.add_column(column)
    for check in checks:
        color = colors.get(check.status, "yellow")
        table.add_row(check.name, f"[{color}]{check.status}[/]", escape(check.detail), escape(check.fix))
    make_console().print(table)
    for check in checks:
        if check.listing:
            click.echo(f"{check.name}: {check.detail}\n{check.listing}")
    sys.exit(1 if any(c.status == FAIL for c in checks) else 0)


@main.command(help="Before a deploy: is this AWS account and Region ready? PASS/WARN/FAIL per check; exit 1 on FAIL.")
@click.option("--stage", type=click.Choice(["sandbox", "prod"]), required=True)
@use_case_option(every=True)
def preflight(stage: str, use_case: str | None) -> None:
    from liftoff.foundation.usecases import load_all_use_cases
    from liftoff.preflight import exit_code, render, run_preflight

    try:
        use_cases = [load_use_case(use_case)] if use_case else load_all_use_cases()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    names = ", ".join(u.name for u in use_cases)
    click.echo(f"preflight for {names} ({stage}) ...", err=True)
    checks = run_preflight(use_cases, stage)
    click.echo(render(checks))
    sys.exit(exit_code(checks))


@main.command(
    help="After a deploy: send good and bad requests, check the registry, dashboard, alarms, logs, EMF and "
    "the spend counter. Exit 1 on any FAIL. --local runs the same checks against local mode."
)
@click.option("--stage", type=click.Choice(["sandbox", "prod"]), default=None, help="The deployed stage to check.")
@click.option(
    "--local", "local_mode", is_flag=True, help="Check local mode instead (started and stopped if not running)."
)
@use_case_option(every=True)
@click.option("--log-wait", type=click.FloatRange(0), default=90, show_default=True, help="Seconds to wait for logs.")
def smoke(stage: str | None, local_mode: bool, use_case: str | None, log_wait: float) -> None:
    from liftoff.foundation.usecases import load_all_use_cases
    from liftoff.smoke import AwsTarget, LocalTarget, exit_code, record, render, run_smoke

    if bool(stage) == local_mode:
        raise click.UsageError("give either --stage sandbox|prod (a deployed stack) or --local")
    try:
        use_cases = [load_use_case(use_case)] if use_case else load_all_use_cases()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    failed = 0
    for uc in use_cases:
        started = False
        try:
            if local_mode:
                if not runtime.is_running(runtime.read_state(uc.name)):
                    click.echo(f"starting local mode for {uc.name} (stopped again at the end) ...", err=True)
                    runtime.up(uc.name)
                    started = True
                target = LocalTarget(uc.name)
            else:
                click.echo(f"reading stack outputs of {uc.name} ({stage}) ...", err=True)
                target = AwsTarget(uc.name, stage)
            checks = run_smoke(target, uc, log_wait_s=log_wait)
        except Exception as exc:  # no stack, no credentials, local mode would not start: say so, plainly
            raise click.ClickException(f"{uc.name}: cannot smoke-test: {exc}") from exc
        finally:
            if started:
                runtime.down(uc.name)
        click.echo(render(checks, f"{uc.name} on {target.name}"))
        record(uc.name, stage or "local", checks)
        failed |= exit_code(checks)
    sys.exit(failed)


def _register_subcommands() -> None:
    from liftoff.cost_report import cost
    from liftoff.evals.cli import eval_group
    from liftoff.prompts_cli import prompts

    main.add_command(prompts)
    main.add_command(cost)
    main.add_command(eval_group, name="eval")

    from liftoff.load import load

    main.add_command(load)

    from liftoff.canary_cli import canary

    main.add_command(canary)

    from liftoff.charter import charter, scope

    main.add_command(charter)
    main.add_command(scope)

    from liftoff.readiness import readiness_command

    main.add_command(readiness_command, name="readiness")

    from liftoff.kb import kb

    main.add_command(kb)


_register_subcommands()


if __name__ == "__main__":  # python -m liftoff.cli, as the `liftoff` script
    main()
