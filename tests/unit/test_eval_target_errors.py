"""A misconfigured eval target is not a quality failure: when every case errors the same way the run says
so, keeps no record and exits 3; --gate names the criteria that failed; the terminal lists the first
failing cases with their ids and why."""

import subprocess
import sys
from pathlib import Path

from liftoff import REPO_ROOT
from liftoff.evals.cli import failing_criteria
from liftoff.evals.runner import CaseResult, Criterion, Run, failure_lines, target_failure
from liftoff.evals.targets import Answer
from service.evalcore.checks import CheckResult

LIFTOFF = Path(sys.executable).parent / "liftoff"


def _error(case_id: str, code: str, message: str = "Forbidden") -> CaseResult:
    return CaseResult(case_id, ["clean"], "error", Answer(ok=False, error_code=code, error_message=message))


def test_every_case_erroring_the_same_way_is_the_target_not_the_model():
    assert target_failure([_error("a", "INVALID_API_KEY"), _error("b", "INVALID_API_KEY")]) == (
        "INVALID_API_KEY: Forbidden"
    )
    # different errors, or one answered case: the run measured something, and is judged as usual
    assert target_failure([_error("a", "INVALID_API_KEY"), _error("b", "ModelThrottled")]) is None
    answered = CaseResult("c", [], "fail", Answer(ok=True, output="x"))
    assert target_failure([_error("a", "INVALID_API_KEY"), answered]) is None
    # a case that expects a refusal "fails" on the 403 rather than erroring: still no answer at all
    refused = CaseResult("d", [], "fail", Answer(ok=False, error_code="INVALID_API_KEY", error_message="Forbidden"))
    assert target_failure([_error("a", "INVALID_API_KEY"), refused]) == "INVALID_API_KEY: Forbidden"


def test_the_first_failing_cases_are_listed_with_their_ids_and_why():
    failed = CaseResult(
        "billing-003",
        ["noisy"],
        "fail",
        Answer(ok=True, output="{}"),
        checks=[CheckResult("json_field category", False, "expected 'billing', got 'other'")],
    )
    lines = failure_lines([failed, _error("edge-1", "ModelThrottled", "slow down")])
    assert lines == [
        "billing-003 [noisy]: json_field category: expected 'billing', got 'other'",
        "edge-1 [clean]: error ModelThrottled: slow down",
    ]
    assert len(failure_lines([_error(f"e{i}", "X") for i in range(9)], limit=5)) == 5


def test_the_gate_names_each_failing_criterion_with_its_figure():
    summary = type(
        "S",
        (),
        {
            "model": "",
            "criteria": [
                Criterion("accuracy", 0.73, 0.85, ">=", "ratio"),
                Criterion("p95 latency", 120.0, 2500.0, "<=", "ms"),
                Criterion("error rate", None, 0.05, "<=", "ratio"),
            ],
        },
    )()
    assert failing_criteria([Run(summary, [])]) == [
        "accuracy 73.0%, needs >= 85.0%",
        "error rate not measured, needs <= 5.0%",
    ]


def test_a_refused_connection_exits_3_saying_the_target_is_unusable():
    # Given an API URL where nothing listens
    done = subprocess.run(
        [
            str(LIFTOFF),
            "eval",
            "run",
            "--use-case",
            "fixture-triage",
            "--target",
            "api",
            "--url",
            "http://127.0.0.1:9/v1/invoke",
            "--api-key",
            "k",
            "--limit",
            "2",
            "--out",
            str(REPO_ROOT / "reports" / "fixture-triage" / "test-unusable"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    # Then it says so plainly, with its own exit code, and no traceback
    assert done.returncode == 3, done.stdout + done.stderr
    assert "every case failed the same way on the api target: ConnectionError" in done.stderr
    assert "nothing was measured about the model" in done.stderr
    assert "Traceback" not in done.stderr
