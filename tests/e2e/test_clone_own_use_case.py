"""A team's first day, in a scratch copy of this checkout: every shipped use case removed (`liftoff remove-use-case
NAME --yes`) and one of its own scaffolded (`liftoff new-use-case faq-bot`). The whole suite still collects there,
to exactly the checkout's tests outside tests/contract/ (the template's tests stand on their fixture project, never
on usecases/), and tests/contract/ is about faq-bot alone. CI's clone-with-its-own-use-case job runs the whole
`make test` on such a clone; this is its cheap local stand-in (collection, not the run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from liftoff import INSTALLED_FROM
from liftoff.foundation.usecases import use_case_names

pytestmark = pytest.mark.e2e
PYTHON = sys.executable
TEAM_USE_CASE = "faq-bot"
INSTALLED = (".venv", "node_modules", ".tools")  # installed, not tracked: the copy links the checkout's
CONTRACT = "tests/contract/"  # the tests of the project's own use cases: the only ones a team's content changes
TIMEOUT_S = 300
PYTEST_OPTIONS = ("-p", "no:cacheprovider", "-n", "0")  # one process: the suite's own workers would start for little


def env_in(project: Path) -> dict[str, str]:
    """The environment of a command standing in `project`: its code first on the path, and no project or use case
    named from outside (the folder a command stands in is its project)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), str(project / "lambdas")])}
    env.pop("LIFTOFF_PROJECT", None)
    env.pop("LIFTOFF_USE_CASE", None)
    return env


def copy_checkout(dest: Path) -> Path:
    """The checkout's files as git lists them (tracked, and new ones not ignored: uncommitted work is in), copied
    to `dest`; what `make setup` installs is linked from the checkout instead."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=INSTALLED_FROM,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = INSTALLED_FROM / name
        if source.is_file() and not source.is_symlink() and name.split("/")[0] not in INSTALLED:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    for name in INSTALLED:
        if (INSTALLED_FROM / name).exists():
            (dest / name).symlink_to((INSTALLED_FROM / name).resolve())
    return dest


@dataclass
class Collection:
    """`pytest --collect-only -q` of the whole suite in one project, running in the background."""

    project: Path
    process: subprocess.Popen

    @classmethod
    def start(cls, project: Path) -> Collection:
        # --assert=plain: collecting does not need pytest's assertion rewriting, the slowest part of importing
        # the test modules of a fresh copy; -n 0: in the process that collects, standing in the fixture project as
        # make test's workers do (an xdist controller goes back to the checkout: tests/conftest.py)
        command = [PYTHON, "-m", "pytest", *PYTEST_OPTIONS, "--collect-only", "-q", "--assert=plain"]
        process = subprocess.Popen(
            command, cwd=project, env=env_in(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        return cls(project, process)

    def test_ids(self) -> list[str]:
        """The collected test ids; fails, with pytest's output, when collection did not succeed."""
        output, _ = self.process.communicate(timeout=TIMEOUT_S)
        assert self.process.returncode == 0, f"collecting in {self.project} failed:\n{output[-6000:]}"
        listed = output.split("\n\n", 1)[0].splitlines()  # -q: the ids, a blank line, then the summary
        assert listed and all("::" in line for line in listed), output[-6000:]
        return listed

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture(scope="module")
def checkout_collection() -> Iterator[Collection]:
    """The checkout's own suite, collected while the team's clone is made (a test asks for this one first)."""
    collection = Collection.start(INSTALLED_FROM)
    yield collection
    collection.stop()


@dataclass(frozen=True)
class TeamClone:
    root: Path
    removed: list[str]


@pytest.fixture(scope="module")
def team_clone(tmp_path_factory) -> TeamClone:
    """A copy of the checkout with the shipped use cases removed and faq-bot scaffolded, by the real commands (in one
    process, tests/cli_in_project.py, standing in the copy: importing liftoff is most of a command's time)."""
    root = copy_checkout(tmp_path_factory.mktemp("team-clone"))
    shipped = use_case_names(root)
    assert shipped, "the checkout has no use case in usecases/ to remove"
    steps = [{"args": ["remove-use-case", name, "--yes"]} for name in shipped]
    steps.append({"args": ["new-use-case", TEAM_USE_CASE]})
    steps_file, results_file = root.parent / "steps.json", root.parent / "results.json"
    steps_file.write_text(json.dumps(steps))
    done = subprocess.run(
        [PYTHON, "-m", "tests.cli_in_project", str(steps_file), str(results_file)],
        cwd=root,
        env=env_in(root),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for result in json.loads(results_file.read_text()):
        assert result["exit_code"] == 0 and result["exception"] is None, result
    assert use_case_names(root) == [TEAM_USE_CASE]
    return TeamClone(root, shipped)


def checks_of(test_ids: list[str], use_case: str) -> set[str]:
    """The tests parametrized for `use_case` (its name in their parameters), with the name taken out: what it is
    checked by, comparable across use cases."""
    found = set()
    for test in test_ids:
        function, bracket, parameters = test.partition("[")
        if bracket and use_case in parameters:
            found.add(f"{function}[{parameters.replace(use_case, '{}')}")
    return found


def test_the_clone_collects_the_checkouts_template_tests_and_contract_tests_of_its_own(checkout_collection, team_clone):
    # Given the checkout's suite and the clone's, collected side by side
    clone_collection = Collection.start(team_clone.root)
    try:
        # When both are collected
        clone_ids = clone_collection.test_ids()
        checkout_ids = checkout_collection.test_ids()
    finally:
        clone_collection.stop()

    # Then the clone collects with no error, and outside tests/contract/ to exactly the checkout's tests: a
    # template test that read a shipped use case at collection fails to import there or names other tests
    template = {test for test in checkout_ids if not test.startswith(CONTRACT)}
    clone_template = {test for test in clone_ids if not test.startswith(CONTRACT)}
    assert clone_template == template, (
        f"{len(clone_template)} template tests in the clone, {len(template)} in the checkout; "
        f"only in the checkout: {sorted(template - clone_template)[:20]}; "
        f"only in the clone: {sorted(clone_template - template)[:20]}"
    )
    contract = [test for test in clone_ids if test.startswith(CONTRACT)]
    # and tests/contract/ differs by its use cases alone: faq-bot gets every check each removed use case had (and no
    # kind of check none of them had), and nothing else there names a use case or differs from the checkout's
    checkout_contract = [test for test in checkout_ids if test.startswith(CONTRACT)]
    removed = [checks_of(checkout_contract, name) for name in team_clone.removed]
    ours = checks_of(contract, TEAM_USE_CASE)
    assert ours, f"tests/contract/ checks nothing of {TEAM_USE_CASE}: {contract}"
    assert set.intersection(*removed) <= ours, sorted(set.intersection(*removed) - ours)
    assert ours <= set.union(*removed), sorted(ours - set.union(*removed))
    about_no_use_case = {test for test in checkout_contract if not any(name in test for name in team_clone.removed)}
    assert {test for test in contract if TEAM_USE_CASE not in test} <= about_no_use_case


def test_the_contract_suites_quick_checks_pass_on_the_clones_own_use_case(team_clone):
    # Given the clone, its one use case scaffolded by new-use-case
    # When tests/contract/ runs there on it, without the checks that synthesize or start local mode (CI's
    # clone-with-its-own-use-case job runs those, in its make test)
    command = [PYTHON, "-m", "pytest", *PYTEST_OPTIONS, "-q", CONTRACT, "-k", TEAM_USE_CASE]
    command += ["-p", "tests.e2e.quick_contract_checks"]
    done = subprocess.run(
        command,
        cwd=team_clone.root,
        env=env_in(team_clone.root),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    # Then they pass, and there are some
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 0, summary
