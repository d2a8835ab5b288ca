"""`liftoff new-use-case NAME --retrieval` end to end: the scaffolded use case answers in local mode from its
example documents and passes its own eval set (recall, hallucination and ungrounded rates included), as a new
user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.project import build_project

pytestmark = pytest.mark.e2e

LIFTOFF = str(Path(sys.executable).parent / "liftoff")


def _liftoff(project: Path, *args: str) -> subprocess.CompletedProcess:
    # the session's liftoff was imported on another project: the commands run in their own process on this one
    env = {**os.environ, "LIFTOFF_PROJECT": str(project), "COLUMNS": "200"}
    return subprocess.run(
        [LIFTOFF, *args], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_scaffolded_retrieval_use_case_passes_its_eval_in_local_mode(tmp_path):
    # Given a project and a retrieval use case scaffolded in it
    project = build_project(tmp_path / "project")
    created = _liftoff(project, "new-use-case", "policy-bot", "--retrieval")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "knowledge/policy-bot/example-leave-policy.md" in created.stdout
    # When its eval set runs (local mode: the lexical stand-in and the simulator)
    run = _liftoff(project, "eval", "run", "--use-case", "policy-bot")
    # Then every criterion passes, the retrieval ones included
    assert run.returncode == 0, run.stdout + run.stderr
    for criterion in ("retrieval recall", "hallucination rate", "ungrounded rate"):
        line = next(line for line in run.stdout.splitlines() if criterion in line and "%" in line)
        assert "PASS" in line, line
