"""`liftoff canary`: the golden canary and the prompt canary's auto-rollback, run against local mode
(the deployed stage runs them on its own: EventBridge Scheduler and the canary alarms)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from liftoff.deployed import require_local
from liftoff.foundation.errors import ConfigError
from liftoff.local import runtime
from liftoff.options import use_case_option


def _run_function(state, event: dict) -> dict:
    try:
        return runtime.run_function(state, event)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(help="The golden canary and the prompt canary's auto-rollback, in local mode.")
def canary() -> None:
    pass


@canary.command("run", help="Run the golden cases (suite.yaml `golden`) as the scheduled canary does, and score them.")
@use_case_option()
@click.option("--json", "as_json", is_flag=True)
def run(use_case: str, as_json: bool) -> None:
    from liftoff.foundation.canary import canary_payload
    from liftoff.foundation.usecases import load_use_case

    state = require_local(use_case, "run it against a deployed stage by its schedule")
    try:
        payload = canary_payload(use_case)
        criteria = load_use_case(use_case).config.exit_criteria
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    result = _run_function(state, payload)
    from liftoff.last_results import write_result

    stable = result.get("stable") or {}
    write_result(  # the last run, for `liftoff readiness` (local mode: the simulator answered)
        use_case,
        "canary",
        "local",
        {"accuracy": stable.get("accuracy"), "cases": stable.get("cases"), "min_accuracy": criteria.min_accuracy},
    )
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for role in ("stable", "canary"):
        if role not in result:
            continue
        run_ = result[role]
        versions = ", ".join(f"{p} v{v}" for p, v in result[f"{role}_versions"].items())
        unanswered = f", {run_['errors']} unanswered (errors, not wrong answers)" if run_["errors"] else ""
        if run_["accuracy"] is None:
            click.echo(
                f"{role} ({versions}): no case was answered, so no accuracy{unanswered}: "
                + ", ".join(f"{case} {code}" for case, code in run_["unanswered"].items())
            )
            continue
        verdict = "PASS" if run_["accuracy"] >= criteria.min_accuracy else "FAIL"
        scored = run_["passed"] + run_["failed_count"]
        click.echo(
            f"{role} ({versions}): {run_['passed']}/{scored} pass = {run_['accuracy']:.0%} "
            f"(min_accuracy {criteria.min_accuracy:.0%}: {verdict}){unanswered}, p95 {run_['latency_p95_ms']} ms, "
            f"${run_['cost_usd']:.6f}"
        )


@canary.command(
    "rollback",
    help="Feed the auto-rollback function an alarm's state change, as EventBridge does when a canary alarm fires.",
)
@use_case_option()
@click.option("--alarm", required=True, help="The alarm's name (it is recorded in the alias history).")
def rollback(use_case: str, alarm: str) -> None:
    state = require_local(use_case, "on a deployed stage the canary alarms trigger it")
    event = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "detail": {"alarmName": alarm, "state": {"value": "ALARM"}},
    }
    result = _run_function(state, event)
    rolled = result.get("rolled_back", [])
    if not rolled:
        click.echo("no prompt canary to roll back (none running, auto-rollback off, or a newer move won)")
    for moved in rolled:
        click.echo(f"{moved['prompt_id']}: canary ended by {alarm}; live stays on v{moved['stable_version']}")
