"""`liftoff smoke --local`: the post-deploy smoke test's logic, run against local mode."""

import re

import pytest
from click.testing import CliRunner

from liftoff.cli import main
from liftoff.foundation.usecases import use_case_names
from liftoff.local import runtime

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", use_case_names())
def test_smoke_passes_against_local_mode_for_every_use_case(local, name):
    # Given local mode running for the use case (the session's support-triage, the others beside it):
    # deploy.yml runs smoke right after every deploy, so it must pass for each use case shipped
    state = local if name == local.use_case else runtime.up(name)
    # When smoke runs against it
    result = CliRunner().invoke(main, ["smoke", "--local", "--use-case", state.use_case, "--log-wait", "10"])
    # Then every check passes (the too-large body gets its 413, whatever the use case's limits), and
    # CloudWatch-only checks say why they are skipped
    assert result.exit_code == 0, result.output
    lines = {
        line.split()[1]: line.split()[0] for line in result.output.splitlines() if line[:4] in ("PASS", "FAIL", "SKIP")
    }
    for name in ("prompt", "good", "bad:", "log", "EMF", "spend", "feedback:"):
        assert lines.get(name) == "PASS", (name, result.output)
    assert re.search(r"bad: no API key\s+403", result.output)
    assert "feedback: forged token" in result.output
    assert "SKIP  dashboard" in result.output and "SKIP  alarms" in result.output


def test_smoke_needs_a_stage_or_local():
    result = CliRunner().invoke(main, ["smoke"])
    assert result.exit_code == 2 and "either --stage" in result.output
