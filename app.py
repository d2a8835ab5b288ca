#!/usr/bin/env python3
"""Liftoff CDK app: one stack per use case for the stage given by `-c stage=sandbox|prod`.

npx cdk synth -c stage=sandbox                         # every use case under usecases/
npx cdk deploy -c stage=sandbox -c use_case=NAME       # one use case's stack

Without `-c use_case`, every use case's stack: the project default (cdk.json `liftoff:default_use_case`,
$LIFTOFF_USE_CASE) picks what a `liftoff` command works on, never which stacks a deploy touches.
"""

import sys

import liftoff  # noqa: F401 - first: it quiets jsii's Node end-of-life banner before aws_cdk starts jsii

# isort: split
import aws_cdk as cdk

from liftoff.foundation.config import get_stage
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.names import stack_name
from liftoff.foundation.packaging import PackageBuildError
from liftoff.foundation.usecases import load_all_use_cases, load_use_case
from stacks.nag import add_nag_checks
from stacks.usecase_stack import UseCaseStack


def main() -> None:
    app = cdk.App()
    try:
        stage = get_stage(app.node.try_get_context("stage") or "sandbox")
        only = app.node.try_get_context("use_case")
        use_cases = [load_use_case(only)] if only else load_all_use_cases()
    except ConfigError as exc:
        sys.exit(f"liftoff: configuration error\n{exc}")

    env = cdk.Environment(account=None, region=None)
    try:
        for use_case in use_cases:
            UseCaseStack(app, stack_name(use_case.name, stage.name), use_case=use_case, stage=stage, env=env)
    except PackageBuildError as exc:  # the function package needs PyPI once per lock file
        sys.exit(f"liftoff: cannot build the function package\n{exc}")
    except ConfigError as exc:  # what only the stack can see: a knowledge folder that is not there
        sys.exit(f"liftoff: configuration error\n{exc}")

    add_nag_checks(app)
    app.synth()


if __name__ == "__main__":
    main()
