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
# directory, so `liftoff` is imported after), and every process a test starts inherits it; a test that makes a
# scratch project runs its commands there (cwd=). tests/contract/ checks the checkout's own use cases.
_FIXTURE_ROOT = Path(tempfile.mkdtemp(prefix="liftoff-tests-"))
atexit.register(shutil.rmtree, _FIXTURE_ROOT, ignore_errors=True)
os.environ.pop("LIFTOFF_PROJECT", None)  # a user's own setting would name their project instead
os.chdir(build_project(_FIXTURE_ROOT / "project"))

import liftoff  # noqa: E402

# What a team writes (the rest of a clone is the template's code, which tests import from the checkout)
TEAM_CONTENT_FILES = ("cdk.json", "openapi.yaml")
TEAM_CONTENT_FOLDERS = ("usecases", "prompts", "evals", "pricing", "charters", "knowledge")


@pytest.fixture
def scratch_project(tmp_path) -> Path:
    """A scratch copy of the project's use cases, prompts, eval sets, prices, charters and API: edit it freely."""
    root = tmp_path / "project"
    root.mkdir()
    for file in TEAM_CONTENT_FILES:
        shutil.copy(liftoff.REPO_ROOT / file, root / file)
    for folder in TEAM_CONTENT_FOLDERS:
        shutil.copytree(liftoff.REPO_ROOT / folder, root / folder)
    return root
