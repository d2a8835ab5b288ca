"""`liftoff smoke --local`: the post-deploy smoke test's logic, run against local mode."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from liftoff.cli import main
from liftoff.foundation.usecases import load_use_case, use_case_names
from liftoff.local import runtime

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", use_case_names())
def test_smoke_passes_against_local_mode_for_every_use_case(local, name):
    # Given local mode running for the use case (the session's fixture-triage, the others beside it):
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
    for check in ("prompt", "good", "bad:", "log", "EMF", "spend", "feedback:"):
        assert lines.get(check) == "PASS", (check, result.output)
    assert re.search(r"bad: no API key\s+403", result.output)
    assert "feedback: forged token" in result.output
    assert "SKIP  dashboard" in result.output and "SKIP  alarms" in result.output
    # and a retrieval use case's knowledge base (local mode's lexical stand-in), its ingestion and a cited answer
    if load_use_case(name).config.knowledge is not None:
        for check in ("knowledge base", "last ingestion", "grounded answer"):
            assert _status(result.output, check) == "PASS", (check, result.output)
        assert "lexical" in result.output
    # and the use cases run side by side: the session's kept running beside this one
    assert runtime.is_running(runtime.read_state(local.use_case))


def test_smoke_needs_a_stage_or_local():
    result = CliRunner().invoke(main, ["smoke"])
    assert result.exit_code == 2 and "either --stage" in result.output


def _smoke_fixture_rag(project):
    """`liftoff smoke --local --use-case fixture-rag` in a fixture project (LIFTOFF_PROJECT names it: the
    session's liftoff was imported on another project, so the command runs in its own process)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "LIFTOFF_PROJECT": str(project)}
    liftoff = str(Path(sys.executable).parent / "liftoff")
    command = [liftoff, "smoke", "--local", "--use-case", "fixture-rag", "--log-wait", "10"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=240, check=False)


def _status(output: str, check: str) -> str | None:
    found = re.search(rf"^(PASS|WARN|FAIL|SKIP)\s+{re.escape(check)}\s", output, re.MULTILINE)
    return found.group(1) if found else None


def test_smoke_fails_when_the_documents_do_not_answer_the_eval_question(tmp_path):
    from tests.fixtures.project import build_project

    # Given the fixture use case's documents (the same files) rewritten to answer none of its questions
    project = build_project(tmp_path / "project")
    for document in (project / "knowledge" / "fixture-rag").iterdir():
        if not document.name.endswith(".metadata.json"):
            document.write_text("# Cafeteria\n\nThe cafeteria serves soup on Mondays and fish on Fridays.\n")
    # When smoke runs against local mode
    done = _smoke_fixture_rag(project)
    # Then the question gets the refusal, not a cited answer, and smoke fails
    assert done.returncode == 1, done.stdout + done.stderr
    assert _status(done.stdout, "knowledge base") == "PASS"
    assert re.search(r"FAIL\s+grounded answer\s+case hotel-cap-capital: answered with no citation", done.stdout)
