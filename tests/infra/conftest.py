import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from liftoff.foundation.config import get_stage
from liftoff.foundation.names import stack_name
from liftoff.foundation.usecases import load_all_use_cases
from stacks.nag import add_nag_checks
from stacks.usecase_stack import UseCaseStack

ENV = cdk.Environment(account="111111111111", region="us-east-1")
STAGES = ("sandbox", "prod")


def synth_app(stage: str, outdir: str) -> tuple[cdk.App, dict[str, cdk.Stack]]:
    """Synthesize every use case for `stage` with cdk-nag on, like app.py (fails on any finding)."""
    app = cdk.App(outdir=outdir)
    stacks = {
        uc.name: UseCaseStack(app, stack_name(uc.name, stage), use_case=uc, stage=get_stage(stage), env=ENV)
        for uc in load_all_use_cases()
    }
    add_nag_checks(app)
    app.synth()
    return app, stacks


@pytest.fixture(scope="session", params=STAGES)
def synthesized(request, tmp_path_factory):
    outdir = tmp_path_factory.mktemp(f"cdk-{request.param}")
    _, stacks = synth_app(request.param, str(outdir))
    return request.param, outdir, {name: Template.from_stack(stack) for name, stack in stacks.items()}


@pytest.fixture
def template(synthesized):
    """fixture-triage's template, in the stage `synthesized` is parametrised with."""
    return synthesized[2]["fixture-triage"]


@pytest.fixture
def stage(synthesized):
    """The StageConfig of that stage."""
    return get_stage(synthesized[0])
