import os

# Set before anything imports boto3 or jsii: no real AWS, no Node end-of-life banner.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.fixtures.project import build_project

# The template's tests run on a project of their own (tests/fixtures/project), never on the checkout's
# usecases/, prompts/, evals/ and knowledge/: a team deletes or renames the shipped use cases and `make test`
# stays green. The session stands in it as a user stands in their clone (liftoff finds the project from the current
# directory), and every process a test starts inherits it; a test that makes a scratch project runs its commands
# there (cwd=). tests/contract/ checks the checkout's own use cases. Done here, before `liftoff` is imported (it fixes
# the project, REPO_ROOT, then).
_INVOKED_IN = Path.cwd()
_FIXTURE_ROOT = Path(tempfile.mkdtemp(prefix="liftoff-tests-"))
atexit.register(shutil.rmtree, _FIXTURE_ROOT, ignore_errors=True)
# A user's own settings (LIFTOFF_PROJECT, LIFTOFF_USE_CASE: docs/getting-started.md suggests exporting it, the
# LIFTOFF_LOCAL_* of local mode) would pick their project, use case and local settings instead of the fixtures';
# only what chooses how the tests run is kept
for _name in [n for n in os.environ if n.startswith("LIFTOFF_") and n != "LIFTOFF_FUZZ_EXAMPLES"]:
    del os.environ[_name]
os.chdir(build_project(_FIXTURE_ROOT / "project"))


def pytest_configure(config):
    """`make test` runs on two pytest-xdist workers (`-n 2 --dist loadfile` in pyproject.toml: a test file stays on
    one worker, so its module fixtures and the order its tests were written in hold). The controller runs no test: it goes back where it was invoked, so the workers it starts find the
    tests in the checkout (each then stands in a fixture project of its own, as above)."""
    if getattr(config.option, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        os.chdir(_INVOKED_IN)


# What a team writes (the rest of a clone is the template's code, which tests import from the checkout)
TEAM_CONTENT_FILES = ("cdk.json", "openapi.yaml")
TEAM_CONTENT_FOLDERS = ("usecases", "prompts", "evals", "pricing", "charters", "knowledge")


@pytest.fixture
def scratch_project(tmp_path) -> Path:
    """A scratch copy of the project's use cases, prompts, eval sets, prices, charters and API: edit it freely."""
    from liftoff import REPO_ROOT

    root = tmp_path / "project"
    root.mkdir()
    for file in TEAM_CONTENT_FILES:
        shutil.copy(REPO_ROOT / file, root / file)
    for folder in TEAM_CONTENT_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, root / folder)
    return root
