"""Every use case in usecases/ runs in local mode (side by side) and through its eval set."""

import json

import pytest
import requests
from click.testing import CliRunner

from liftoff.evals.cli import eval_group
from liftoff.foundation.eval_cases import load_cases
from liftoff.foundation.usecases import use_case_names
from liftoff.local import runtime

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", use_case_names())
def test_each_use_case_answers_locally_and_runs_its_evals(local, name, tmp_path):
    state = runtime.up(name)  # its own process, beside the session's fixture-triage
    first = next(c for c in load_cases(name) if "clean" in c.tags)
    response = requests.post(
        state.invoke_url,
        json={"prompt_id": first.prompt_id or _suite_prompt(name), "variables": first.variables},
        headers={"x-api-key": state.api_key},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    result = CliRunner().invoke(
        eval_group, ["run", "--use-case", name, "--limit", "15", "--out", str(tmp_path), "--gate"]
    )
    assert result.exit_code in (0, 1), result.output
    report = json.loads((tmp_path / "report.json").read_text())
    (run,) = report["runs"]
    assert run["cases"] == 15
    assert run["errors"] == 0  # every shipped case gets an answer (or the refusal it expects)
    assert runtime.is_running(runtime.read_state("fixture-triage"))  # the other use case kept running


def _suite_prompt(name: str) -> str:
    from liftoff.foundation.eval_cases import load_suite

    return load_suite(name).prompt_id
