"""A command that needs AWS, on a machine with no AWS configuration, says what is missing and how to set it
(it dumped an 80-line traceback ending in NoRegionError)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import NoCredentialsError, NoRegionError, ProfileNotFound

from liftoff import REPO_ROOT
from liftoff.cli import aws_setup_message

LIFTOFF = Path(sys.executable).parent / "liftoff"


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (NoRegionError(), "export AWS_DEFAULT_REGION="),
        (NoCredentialsError(), "aws sso login"),
        (ProfileNotFound(profile="nope"), "aws configure list-profiles"),
    ],
)
def test_each_aws_setup_error_says_what_to_do(error, says):
    assert says in aws_setup_message(error)


def test_any_other_error_is_left_alone():
    assert aws_setup_message(ValueError("x")) is None


def test_an_eval_on_bedrock_without_a_region_says_so_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    done = subprocess.run(
        [str(LIFTOFF), "eval", "run", "--use-case", "fixture-triage", "--target", "bedrock", "--limit", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "AWS is not set up on this machine: no AWS Region is set" in done.stderr
