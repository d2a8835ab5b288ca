"""`make demo` (= `liftoff demo`) end to end, as a new user sees it in an 80-column terminal: every request
gets its expected status, and no line is wider than the terminal (no wrapped table, no figure cut short).
And the demo of another use case: it sends that use case's own eval cases, not the default's.
In a scratch copy with its own local mode, so the session's local mode is untouched; synth is left to
the infra tests (--skip-synth)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from liftoff import REPO_ROOT
from liftoff.demo import demo_requests
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import load_use_case, resolve_use_case, use_case_names

pytestmark = pytest.mark.e2e
LIFTOFF = Path(sys.executable).parent / "liftoff"


@pytest.fixture
def checkout(tmp_path):
    shutil.copy(REPO_ROOT / "cdk.json", tmp_path / "cdk.json")
    for folder in ("usecases", "prompts", "evals", "pricing", "charters", "knowledge"):
        if (REPO_ROOT / folder).is_dir():
            shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    yield tmp_path
    subprocess.run([str(LIFTOFF), "local", "down"], cwd=tmp_path, capture_output=True, timeout=60, check=False)


def test_the_demo_runs_end_to_end_and_fits_an_80_column_terminal(checkout):
    done = subprocess.run(
        [str(LIFTOFF), "demo", "--skip-synth"],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "demo ok: every request got the expected answer." in out
    wide = [line for line in out.splitlines() if len(line) > 80]
    assert not wide, wide
    # a figure cut short by a narrow column ends in an ellipsis: `0.002…`
    assert not re.search(r"\d…", out), re.findall(r".{0,20}\d….{0,5}", out)
    assert "the first 5 failing or erroring cases" in out  # the eval says what failed, not only how many
    assert "golden canary" in out


def test_the_demo_of_another_use_case_sends_its_own_eval_cases(checkout):
    # Given a use case that is not the project's default
    try:
        default = resolve_use_case(None)
    except ConfigError:  # a project with several and no default: any of them is "another"
        default = None
    other = next(name for name in use_case_names() if name != default)
    sent = demo_requests(load_use_case(other))

    # When its demo runs
    done = subprocess.run(
        [str(LIFTOFF), "demo", "--skip-synth", "--use-case", other],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "160"},
    )

    # Then every request, its own eval cases and the bad requests built from its prompt, gets the expected status
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "demo ok: every request got the expected answer." in out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    for request in sent:
        assert any(row.split("│")[1].strip() == request.label for row in rows), request.label
    assert f"the whole eval set of {other}" in out
