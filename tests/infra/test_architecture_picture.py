"""The architecture picture (README, docs/architecture.md) is drawn from tools/draw_architecture.py and
stays true: a box for every construct a stack is built from, no box for one that is gone, and the
committed SVG is what the script draws."""

import importlib.util
import sys
from pathlib import Path

import aws_cdk as cdk

from liftoff import REPO_ROOT
from liftoff.config import get_stage
from liftoff.usecases import load_use_case
from stacks.usecase_stack import UseCaseStack

CONSTRUCTS = REPO_ROOT / "stacks" / "constructs"


def _drawing():
    spec = importlib.util.spec_from_file_location("draw_architecture", REPO_ROOT / "tools" / "draw_architecture.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_construct_module_has_a_box_and_every_box_a_construct():
    drawn = {node.construct for node in _drawing().NODES if node.construct}
    modules = {path.stem for path in CONSTRUCTS.glob("*.py") if path.stem != "__init__"}
    assert drawn == modules, f"missing from the picture: {modules - drawn}; no longer built: {drawn - modules}"


def test_the_prod_stack_is_built_from_exactly_the_constructs_drawn(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    stack = UseCaseStack(
        app,
        "Liftoff-support-triage-prod",
        use_case=load_use_case("support-triage"),
        stage=get_stage("prod"),
        env=cdk.Environment(account="111111111111", region="us-east-1"),
    )
    used = {
        type(child).__module__.rsplit(".", 1)[-1]
        for child in stack.node.find_all()
        if type(child).__module__.startswith("stacks.constructs.")
    }
    assert used == {node.construct for node in _drawing().NODES if node.construct}


def test_the_committed_svg_is_current():
    drawing = _drawing()
    assert Path(drawing.OUT).read_text(encoding="utf-8") == drawing.draw(), (
        "docs/img/architecture.svg is stale: run .venv/bin/python tools/draw_architecture.py"
    )


def test_the_readme_and_the_architecture_page_show_it():
    assert "docs/img/architecture.svg" in (REPO_ROOT / "README.md").read_text()
    assert "img/architecture.svg" in (REPO_ROOT / "docs" / "architecture.md").read_text()
