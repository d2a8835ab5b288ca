"""Synthesize every use case of the project one stands in for one stage, with cdk-nag on, as app.py does.

    python -m tests.synth STAGE OUTDIR    # from the project's folder (it is found from there, like `liftoff`)

The infra tests call synth_app in their own process (on the fixture project the session stands in); the contract
tests (tests/contract/) run this module in a process of its own from the checkout, because the stacks read the
project through liftoff.REPO_ROOT, which a process fixes when it first imports liftoff. A cdk-nag finding does
not stop the synth here: every template and the validation report are written, and the exit status is 3, so
that each use case's findings can be told apart (tests/checks.py, nag_findings).
"""

from __future__ import annotations

import sys
from pathlib import Path

import liftoff  # noqa: F401 - first: it quiets jsii's Node end-of-life banner before aws_cdk starts jsii

# isort: split
import aws_cdk as cdk

ENV = cdk.Environment(account="111111111111", region="us-east-1")
STAGES = ("sandbox", "prod")
NAG_FINDINGS_EXIT = 3
VALIDATION_REPORT = "validation-report.json"


def synth_app(stage: str, outdir: str) -> tuple[cdk.App, dict[str, cdk.Stack]]:
    """Synthesize every use case for `stage` with cdk-nag on, like app.py (fails on any finding)."""
    from liftoff.foundation.config import get_stage
    from liftoff.foundation.names import stack_name
    from liftoff.foundation.usecases import load_all_use_cases
    from stacks.nag import add_nag_checks
    from stacks.usecase_stack import UseCaseStack

    app = cdk.App(outdir=outdir)
    stacks = {
        uc.name: UseCaseStack(app, stack_name(uc.name, stage), use_case=uc, stage=get_stage(stage), env=ENV)
        for uc in load_all_use_cases()
    }
    add_nag_checks(app)
    app.synth()
    return app, stacks


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in STAGES:
        print(f"usage: python -m tests.synth {'|'.join(STAGES)} OUTDIR", file=sys.stderr)
        return 2
    stage, outdir = argv
    try:
        synth_app(stage, outdir)
    except RuntimeError as exc:  # the policy-validation plugins fail synth after writing their report
        if not (Path(outdir) / VALIDATION_REPORT).is_file():
            raise
        print(exc, file=sys.stderr)
        return NAG_FINDINGS_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
