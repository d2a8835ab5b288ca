"""Reading a deployed use-case stack: its CloudFormation outputs name the resources the CLI works on."""

from __future__ import annotations

import boto3
import click


def require_local(use_case: str, alternative: str):
    """Local mode's state for `use_case`, or a CLI error that says how to start it (or `alternative`)."""
    from liftoff.local import runtime

    state = runtime.read_state(use_case)
    if not runtime.is_running(state):
        raise click.ClickException(
            f"local mode is not running for {use_case}: start it with `liftoff local up --use-case {use_case}`, "
            f"or {alternative}"
        )
    return state


def stack_outputs(use_case: str, stage: str, *, required: str) -> dict[str, str]:
    """The outputs of stack Liftoff-<use_case>-<stage>; `required` must be among them."""
    from liftoff.foundation.names import stack_name

    name = stack_name(use_case, stage)
    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except Exception as exc:
        raise click.ClickException(f"cannot read stack {name}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if required not in outputs:
        raise click.ClickException(f"stack {name} has no {required} output: is it a Liftoff stack, deployed lately?")
    return outputs
