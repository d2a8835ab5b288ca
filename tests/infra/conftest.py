import pytest
from aws_cdk.assertions import Template

from liftoff.foundation.config import get_stage
from tests.synth import STAGES, synth_app


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
