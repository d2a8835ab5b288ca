import os

# Set before anything imports boto3 or jsii: no real AWS, no Node end-of-life banner.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

import shutil
from pathlib import Path

import pytest

import liftoff

# What a team writes (the rest of a clone is the template's code, which tests import from the checkout)
TEAM_CONTENT_FILES = ("cdk.json", "openapi.yaml")
TEAM_CONTENT_FOLDERS = ("usecases", "prompts", "evals", "pricing", "charters")


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
