"""Reading a deployed use-case stack: its CloudFormation outputs name the resources the CLI works on."""

from __future__ import annotations

from typing import Any

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


def stack_outputs(
    use_case: str, stage: str, *, required: str, missing: str | None = None, client: Any = None
) -> dict[str, str]:
    """The outputs of stack Liftoff-<use_case>-<stage>; `required` must be among them (`missing`: what to say
    when it is not; `client`: a CloudFormation client to use)."""
    from botocore.exceptions import ClientError

    from liftoff.foundation.names import stack_name

    name = stack_name(use_case, stage)
    cloudformation = client or boto3.client("cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        region = cloudformation.meta.region_name
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            raise click.ClickException(
                f"stack {name} is not deployed in {region}: deploy it (npx cdk deploy -c stage={stage} "
                f"-c use_case={use_case}), or point AWS_PROFILE / AWS_DEFAULT_REGION at the account and Region "
                "it is in"
            ) from exc
        if error.get("Code") in ("AccessDenied", "AccessDeniedException"):
            raise click.ClickException(
                f"not allowed to read stack {name}: your AWS identity needs cloudformation:DescribeStacks on it"
            ) from exc
        raise click.ClickException(f"cannot read stack {name}: {exc}") from exc
    except Exception as exc:
        raise click.ClickException(f"cannot read stack {name}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if required not in outputs:
        raise click.ClickException(
            f"stack {name} has no {required} output: " + (missing or "is it a Liftoff stack, deployed lately?")
        )
    return outputs
