"""The layers run one way: lambdas/service (the runtime) <- liftoff/foundation <- {stacks/ and app.py (the CDK app),
the rest of liftoff/ (the CLI)}. Every import is read from the source (`ast`, at any depth, inside functions too),
so a fact the CLI takes from `stacks/`, or a foundation module that reaches up, fails here naming file and line."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The one place the CLI may import the CDK app: `liftoff readiness` synthesizes the stack to run cdk-nag on it.
# (file, enclosing function) -> the stacks modules it may import there, and why.
SYNTH_EXCEPTIONS: dict[tuple[str, str], tuple[set[str], str]] = {
    ("liftoff/readiness.py", "_nag_findings"): (
        {"stacks.nag", "stacks.usecase_stack"},
        "readiness synthesizes UseCaseStack and runs cdk-nag (add_nag_checks) on it; a synth needs the CDK app",
    ),
}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository
    line: int
    module: str  # the module imported, resolved (`from liftoff import readiness` -> liftoff.readiness)
    function: str | None  # the outermost function the import is in; None at module level

    def __str__(self) -> str:
        where = f" (in {self.function})" if self.function else ""
        return f"{self.path}:{self.line}: imports {self.module}{where}"


def _is_module(dotted: str) -> bool:
    parts = dotted.split(".")
    for base in (REPO, REPO / "lambdas"):
        target = base.joinpath(*parts)
        if target.with_suffix(".py").is_file() or (target / "__init__.py").is_file():
            return True
    return False


def _package_of(path: Path) -> list[str]:
    """The dotted package a file is in (for relative imports)."""
    relative = path.relative_to(REPO / "lambdas" if path.is_relative_to(REPO / "lambdas") else REPO)
    return list(relative.parent.parts)


def imports_of(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = path.relative_to(REPO).as_posix()
    found: list[Import] = []

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(name, node.lineno, alias.name, function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(path)
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                found.append(Import(name, node.lineno, candidate if _is_module(candidate) else module, function))
        for child in ast.iter_child_nodes(node):
            inner = function
            if function is None and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = child.name
            visit(child, inner)

    visit(tree, None)
    return found


def sources(*roots: str) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        target = REPO / root
        files.extend([target] if target.is_file() else sorted(target.rglob("*.py")))
    assert files, f"no Python files under {roots}: the test would check nothing"
    return files


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_cli_imports_stacks_only_where_it_synthesizes():
    # Given every module of liftoff/ outside the foundation
    cli = [p for p in sources("liftoff") if not p.is_relative_to(REPO / "liftoff" / "foundation")]
    # When its imports of stacks are collected
    found = [i for p in cli for i in imports_of(p) if _under(i.module, "stacks")]
    # Then each is inside the one function that synthesizes, and imports only what that synth needs
    wrong = [str(i) for i in found if i.module not in SYNTH_EXCEPTIONS.get((i.path, i.function or ""), (set(), ""))[0]]
    assert wrong == [], "the CLI takes facts from liftoff.foundation, not stacks/:\n" + "\n".join(wrong)
    # And the exception is not stale: the synth still imports what it is allowed to
    used = {(i.path, i.function): set() for i in found}
    for i in found:
        used[(i.path, i.function)].add(i.module)
    assert used == {key: modules for key, (modules, _why) in SYNTH_EXCEPTIONS.items()}


def test_the_foundation_imports_neither_stacks_nor_the_cli():
    # Given every module of liftoff/foundation / When its imports are collected
    found = [i for p in sources("liftoff/foundation") for i in imports_of(p)]
    # Then it reaches down (service.*, the `liftoff` package root) and never up
    wrong = [
        str(i)
        for i in found
        if _under(i.module, "stacks")
        or (_under(i.module, "liftoff") and i.module != "liftoff" and not _under(i.module, "liftoff.foundation"))
    ]
    assert wrong == [], "liftoff/foundation sits below stacks/ and the CLI:\n" + "\n".join(wrong)


def test_the_cdk_app_imports_only_the_foundation_from_liftoff():
    # Given stacks/ and app.py / When their imports of liftoff are collected
    found = [i for p in sources("stacks", "app.py") for i in imports_of(p) if _under(i.module, "liftoff")]
    # Then each is the foundation (or the package root: REPO_ROOT)
    wrong = [str(i) for i in found if i.module != "liftoff" and not _under(i.module, "liftoff.foundation")]
    assert wrong == [], "stacks/ and app.py import liftoff.foundation only, not the CLI:\n" + "\n".join(wrong)
    assert any(_under(i.module, "liftoff.foundation") for i in found)  # the scan sees the imports that are there


def test_the_runtime_imports_neither_liftoff_nor_stacks():
    # Given lambdas/service, the bottom layer that runs in Lambda / When its imports are collected
    found = [i for p in sources("lambdas/service") for i in imports_of(p)]
    # Then none is liftoff or stacks (neither is in the function's package)
    wrong = [str(i) for i in found if _under(i.module, "liftoff") or _under(i.module, "stacks")]
    assert wrong == [], "lambdas/service is the runtime, below everything:\n" + "\n".join(wrong)


def test_an_import_inside_a_function_is_seen(tmp_path, monkeypatch):
    # Given a module that imports stacks only inside a function, and relatively from a package
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    package = tmp_path / "liftoff"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "readiness.py").write_text("")
    (package / "probe.py").write_text(
        "def late():\n    from stacks.usecase_stack import UseCaseStack\n\nfrom . import readiness\n"
    )
    # When its imports are read / Then both are found, with the function and the resolved module
    found = imports_of(package / "probe.py")
    assert [(i.line, i.module, i.function) for i in found] == [
        (2, "stacks.usecase_stack", "late"),
        (4, "liftoff.readiness", None),
    ]
