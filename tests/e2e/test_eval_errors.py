"""Through local mode: a wrong API key is reported as an unusable target (exit 3, no record), and a run
that judges the model lists its first failing cases and, with --gate, the criteria that failed."""

import pytest
from click.testing import CliRunner

from liftoff.evals.cli import eval_group

pytestmark = pytest.mark.e2e
USE_CASE = "fixture-triage"


def test_a_wrong_api_key_is_an_unusable_target_not_five_wrong_answers(local, tmp_path):
    result = CliRunner().invoke(
        eval_group,
        [
            *("run", "--use-case", USE_CASE, "--target", "api", "--url", local.invoke_url, "--api-key", "wrong"),
            *("--limit", "5", "--out", str(tmp_path / "report")),
        ],
    )
    assert result.exit_code == 3, result.output
    assert "every case failed the same way on the api target: INVALID_API_KEY: Forbidden" in result.output
    assert "check the API key" in result.output
    assert "no record kept" in result.output


def test_gate_names_the_failing_criteria_and_a_run_lists_failing_cases(local, tmp_path):
    # the simulator's keyword rule gets the noisy cases wrong often enough to fail min_accuracy
    args = ["run", "--use-case", USE_CASE, "--tag", "noisy", "--limit", "30"]
    gated = CliRunner().invoke(eval_group, [*args, "--gate", "--out", str(tmp_path / "gate")])
    assert gated.exit_code == 1, gated.output
    verdict = next(line for line in gated.output.splitlines() if line.startswith(f"{USE_CASE}: FAIL"))
    assert "accuracy " in verdict and ", needs >= 85.0%" in verdict
    shown = CliRunner().invoke(eval_group, [*args, "--out", str(tmp_path / "run")])
    assert shown.exit_code == 1
    assert "failing or erroring cases (all of them in the report):" in shown.output
    assert "~" in shown.output.split("failing or erroring cases")[1]  # a generated (noisy) case's id, with why
