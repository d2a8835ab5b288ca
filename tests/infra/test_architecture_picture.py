"""The architecture picture (README, docs/architecture.md) is drawn from tools/draw_architecture.py and
stays true: a box for every construct a stack is built from, no box for one that is gone, and the
committed SVG is what the script draws."""

import importlib.util
import sys
from pathlib import Path

import aws_cdk as cdk

from liftoff import INSTALLED_FROM, REPO_ROOT
from liftoff.foundation.config import get_stage
from liftoff.foundation.usecases import load_use_case
from stacks.usecase_stack import UseCaseStack

CONSTRUCTS = INSTALLED_FROM / "stacks" / "constructs"


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


def test_the_prod_stacks_are_built_from_exactly_the_constructs_drawn(tmp_path):
    """A use case without `knowledge:` (fixture-triage) and one with it (the fixture project's fixture-rag)
    together use every construct drawn, and no other."""
    from tests.fixtures.project import CONTENT

    app = cdk.App(outdir=str(tmp_path))
    used = set()
    for use_case in (load_use_case("fixture-triage"), load_use_case("fixture-rag", root=CONTENT)):
        stack = UseCaseStack(
            app,
            f"Liftoff-{use_case.name}-prod",
            use_case=use_case,
            stage=get_stage("prod"),
            env=cdk.Environment(account="111111111111", region="us-east-1"),
        )
        used |= {
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
    assert "docs/img/architecture.svg" in (INSTALLED_FROM / "README.md").read_text()
    assert "img/architecture.svg" in (INSTALLED_FROM / "docs" / "architecture.md").read_text()


def _segments(drawing, solid_only: bool):
    nodes = {node.key: node for node in drawing.NODES}
    for edge in drawing.EDGES:
        if solid_only and edge.dashed:
            continue
        source, target = nodes[edge.source], nodes[edge.target]
        start = drawing._border_point(source, drawing._center(target))
        end = drawing._border_point(target, drawing._center(source))
        yield edge, start, end


def _cross(a, b, c, d) -> bool:
    """Whether segments a-b and c-d cross at a point inside both (touching ends do not count)."""

    def orient(p, q, r):
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2, d3, d4 = orient(c, d, a), orient(c, d, b), orient(a, b, c), orient(a, b, d)
    return d1 * d2 < 0 and d3 * d4 < 0


def test_no_two_solid_arrows_cross_and_no_arrow_runs_through_a_box():
    # A crossing made the feedback function's "rating" arrow read as if invoke wrote ratings.
    drawing = _drawing()
    solid = list(_segments(drawing, solid_only=True))
    crossings = [
        (e1.source + ">" + e1.target, e2.source + ">" + e2.target)
        for i, (e1, a, b) in enumerate(solid)
        for e2, c, d in solid[i + 1 :]
        if _cross(a, b, c, d)
    ]
    assert not crossings
    through = []
    for edge, a, b in _segments(drawing, solid_only=False):
        for node in drawing.NODES:
            if node.key in (edge.source, edge.target):
                continue
            x, y, w, h = drawing._box(node)
            corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
            sides = zip(corners, corners[1:] + corners[:1], strict=True)
            if any(_cross(a, b, c, d) for c, d in sides):
                through.append(f"{edge.source}>{edge.target} through {node.key}")
    assert not through


def test_the_golden_canary_points_at_what_it_calls_and_what_it_rolls_back():
    edges = {(e.source, e.target) for e in _drawing().EDGES}
    assert ("golden", "profiles") in edges  # it answers its cases through the models, as invoke does
    assert ("golden", "prompts") in edges  # its rollback ends a prompt canary
