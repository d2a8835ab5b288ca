"""docs/upgrading.md's flow, in scratch git repositories: a clone that removed the template's examples and added its
own use case takes the template's next release, which changed template code and a removed example, with no
conflict; its use case is untouched, the template's change is in, the example stays removed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from liftoff.foundation.usecases import use_case_names
from tests.fixtures.project import CHECKOUT, CONTENT, TEAM_CONTENT, fixture_cdk_json

pytestmark = pytest.mark.e2e
LIFTOFF = Path(sys.executable).parent / "liftoff"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
TEMPLATE_CODE_CHANGE = "stacks/usecase_stack.py"
OWN = "faq-bot"  # the clone's own use case


def sh(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, **GIT_ENV}
    env.pop("LIFTOFF_PROJECT", None)  # the repository the command stands in is the project
    done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 or not ok, f"{args}: {done.stdout}{done.stderr}"
    return done


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def template(tmp_path) -> Path:
    """A template repository at tag v1: the checkout's template files (tracked and new) with the fixture project's
    use cases as its examples, committed. Not the checkout's use cases: in a team's clone those are the team's own,
    which may be what this test's clone scaffolds (git then pairs the removed example with it as a rename)."""
    root = tmp_path / "template"
    listed = sh(CHECKOUT, "git", "ls-files", "--cached", "--others", "--exclude-standard").stdout.split("\n")
    for name in filter(None, listed):
        source = CHECKOUT / name
        if name.split("/", 1)[0] not in TEAM_CONTENT and source.is_file() and not source.is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    for folder in TEAM_CONTENT:
        if (CONTENT / folder).is_dir():
            shutil.copytree(CONTENT / folder, root / folder)
    (root / "cdk.json").write_text(fixture_cdk_json())
    sh(root, "git", "init", "--quiet", "--initial-branch=main")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "--quiet", "-m", "template v1")
    sh(root, "git", "tag", "v1")
    return root


def test_a_clone_with_its_own_use_case_merges_the_next_release_cleanly(template, tmp_path):
    shipped = use_case_names(template)
    assert shipped, "the template ships example use cases"
    # Given a clone of v1 that removed the shipped examples and scaffolded its own use case
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "--quiet", "--branch", "v1", str(template), str(clone))
    sh(clone, "git", "switch", "--quiet", "-c", "main")
    for name in shipped:
        sh(clone, str(LIFTOFF), "remove-use-case", name, "--yes")
    sh(clone, str(LIFTOFF), "new-use-case", OWN)
    sh(clone, "git", "add", "-A")
    sh(clone, "git", "commit", "--quiet", "-m", "our use case")
    ours = {folder: files_of(clone / folder / OWN) for folder in ("prompts", "evals")}
    config = (clone / "usecases" / f"{OWN}.yaml").read_bytes()

    # And a release v2 of the template that changed template code and a shipped example (and added to it)
    example = shipped[0]
    (template / TEMPLATE_CODE_CHANGE).write_text((template / TEMPLATE_CODE_CHANGE).read_text() + "# v2\n")
    prompt = next((template / "prompts" / example).glob("*.yaml"))
    prompt.write_text(prompt.read_text() + "# v2: a better prompt\n")
    (template / "evals" / example / "v2.jsonl").write_text("")
    sh(template, "git", "commit", "--quiet", "-am", "v2")
    sh(template, "git", "add", "-A")
    sh(template, "git", "commit", "--quiet", "-m", "v2: new cases")
    sh(template, "git", "tag", "v2")

    # (a plain `git merge v2` stops on the removed example: the trap the upgrade command is for)
    sh(clone, "git", "remote", "add", "upstream", str(template))
    sh(clone, "git", "fetch", "--quiet", "upstream", "--tags")
    plain = sh(clone, "git", "merge", "--no-edit", "v2", ok=False)
    assert plain.returncode != 0 and "CONFLICT (modify/delete)" in plain.stdout
    sh(clone, "git", "merge", "--abort")

    # When the clone upgrades as docs/upgrading.md says
    upgraded = sh(clone, str(LIFTOFF), "upgrade", "v2")

    # Then it merged and committed with no conflict left
    assert "merged v2 and committed it; next: make test" in upgraded.stdout
    assert sh(clone, "git", "status", "--porcelain").stdout == ""
    parents = sh(clone, "git", "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()[1:]
    assert sh(clone, "git", "rev-parse", "v2^{commit}").stdout.strip() in parents
    # the template's change is in, the clone's use case untouched, the removed example still removed
    assert (clone / TEMPLATE_CODE_CHANGE).read_text().endswith("# v2\n")
    assert {folder: files_of(clone / folder / OWN) for folder in ("prompts", "evals")} == ours
    assert (clone / "usecases" / f"{OWN}.yaml").read_bytes() == config
    assert use_case_names(clone) == [OWN]
    for folder in ("prompts", "evals"):
        assert not (clone / folder / example).exists()
    assert sh(clone, str(LIFTOFF), "use-cases", "--default").stdout.strip() == OWN


def test_a_project_with_a_history_of_its_own_is_told_how_to_merge_the_first_release(template, tmp_path):
    # Given a project made from a copy of the template's files (GitHub's "Use this template"): no shared history
    project = tmp_path / "project"
    shutil.copytree(template, project, ignore=shutil.ignore_patterns(".git"))
    sh(project, "git", "init", "--quiet", "--initial-branch=main")
    sh(project, "git", "add", "-A")
    sh(project, "git", "commit", "--quiet", "-m", "from the template")
    sh(project, "git", "remote", "add", "upstream", str(template))
    sh(project, "git", "fetch", "--quiet", "upstream", "--tags")
    # When it upgrades / Then it is told why git cannot merge, and the one-time merge that makes it work
    done = sh(project, str(LIFTOFF), "upgrade", "v1", ok=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "share no history" in done.stderr and "git merge --allow-unrelated-histories v1" in done.stderr
    assert sh(project, "git", "status", "--porcelain").stdout == ""  # nothing was changed
