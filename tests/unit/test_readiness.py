"""The lines of `liftoff readiness` one by one, on a scratch copy of the project (no synth, no local mode:
tests/e2e/test_readiness.py runs the whole verdict)."""

import json
import re
from datetime import date

import pytest

from liftoff.foundation.usecases import load_use_case
from liftoff.last_results import read_results, write_result
from liftoff.readiness import (
    FAIL,
    NOT_MEASURED,
    NOT_REAL,
    PASS,
    NoRegistry,
    charter_lines,
    cost_line,
    coverage_line,
    criteria_lines,
    load_line,
    scope_line,
    smoke_line,
)

USE_CASE = "fixture-triage"


@pytest.fixture
def root(scratch_project):
    return scratch_project


def _load(root, **result):
    base = {"requests": 600, "rps": 2.0, "users": 4, "p95_ms": 900.0, "error_rate": 0.0}
    write_result(USE_CASE, "load", result.pop("target", "prod"), {**base, **result}, root)
    return load_line(load_use_case(USE_CASE, root), "prod", root)


def test_load_at_the_charters_peak_within_the_criteria(root):
    peak = load_use_case(USE_CASE, root).config.charter.peak_requests_per_s
    assert _load(root).status == PASS
    slow = _load(root, rps=peak / 2)
    assert slow.status == FAIL and f"below the charter's peak {peak:g}/s" in slow.evidence
    assert slow.fix.startswith("liftoff load --use-case fixture-triage --target api --stage prod --users ")
    assert "p95 3100 ms over 2500 ms" in _load(root, p95_ms=3100.0).evidence
    assert "error rate 9.0% over 5%" in _load(root, error_rate=0.09).evidence


def test_local_load_and_smoke_are_shown_but_never_enough(root):
    write_result(
        USE_CASE, "load", "local", {"requests": 90, "rps": 9.0, "users": 3, "p95_ms": 40.0, "error_rate": 0.0}, root
    )
    write_result(USE_CASE, "smoke", "local", {"passed": True, "checks": 12, "failed": [], "skipped": 4}, root)
    use_case = load_use_case(USE_CASE, root)
    local_load = load_line(use_case, None, root)
    assert local_load.status == NOT_MEASURED and local_load.evidence.startswith("local mode only")
    assert load_line(use_case, "prod", root).evidence == "no load test found"  # the stage's own result only
    smoke = smoke_line(use_case, None, root)
    assert smoke.status == NOT_MEASURED and "8 of 12 checks passed, 4 skipped" in smoke.evidence
    # a deployed smoke test, once it ran, is the one judged (without --stage too), and its failures named
    write_result(
        USE_CASE, "smoke", "sandbox", {"passed": False, "checks": 12, "failed": ["alarms"], "skipped": 0}, root
    )
    deployed = smoke_line(use_case, None, root)
    assert (deployed.status, deployed.evidence) == (FAIL, "stage sandbox: 11 of 12 checks passed; FAILED: alarms")
    assert set(read_results(USE_CASE, "smoke", root)) == {"local", "sandbox"}


def test_without_any_eval_the_criteria_are_not_measured_and_name_the_hash_that_would_ship(root):
    use_case = load_use_case(USE_CASE, root)
    (line,) = criteria_lines(use_case, NoRegistry(), root)
    digest = use_case.prompts[0].content_hash()
    assert line.status == NOT_MEASURED
    assert (
        f"triage as the file would publish it (sha256:{digest[:12]}): {NOT_REAL}; no eval of it found" == line.evidence
    )


def test_an_eval_of_another_prompt_text_is_not_evidence(root):
    use_case = load_use_case(USE_CASE, root)
    folder = root / "reports" / USE_CASE / "20261130T100000Z"
    folder.mkdir(parents=True)
    evaluated = {
        "use_case": USE_CASE, "prompt_id": "triage", "version": 1, "alias": "live", "content_hash": "0" * 64,
        "model_id": "m", "guardrail": None, "guardrail_applied": True, "target": "api", "simulated": False,
        "git_commit": None, "eval_set_hash": "e", "stage": "prod",
    }  # fmt: skip
    report = {
        "evaluated": evaluated,
        "runs": [{"criteria": []}],
        "passed": True,
        "created_at": "2026-11-30T10:00:00+00:00",
    }
    (folder / "report.json").write_text(json.dumps(report))
    (line,) = criteria_lines(use_case, NoRegistry(), root)
    assert line.status == NOT_MEASURED  # a passing real-model eval, but of other content


def test_a_real_model_eval_of_a_sample_of_the_eval_set_is_not_go(root):
    # Given a passing real-model eval of the file's content, but of --limit 1 case
    use_case = load_use_case(USE_CASE, root)
    folder = root / "reports" / USE_CASE / "20261130T110000Z"
    folder.mkdir(parents=True)
    evaluated = {
        "use_case": USE_CASE, "prompt_id": "triage", "version": 1, "alias": "live",
        "content_hash": use_case.prompts[0].content_hash(), "model_id": "m", "guardrail": None,
        "guardrail_applied": True, "target": "api", "simulated": False, "git_commit": None, "eval_set_hash": "e",
        "stage": "prod", "sample": True,
    }  # fmt: skip
    report = {"evaluated": evaluated, "runs": [{"criteria": []}], "passed": True, "created_at": "2026-11-30T11:00:00"}
    (folder / "report.json").write_text(json.dumps(report))
    # When readiness judges the exit criteria / Then they are not measured, and it says why
    (line,) = criteria_lines(use_case, NoRegistry(), root)
    assert line.status == NOT_MEASURED
    assert "PASS on api (a sample of the eval set)" in line.evidence


def test_a_scaffolded_charter_is_refused_and_a_passed_review_date_named(root):
    from liftoff.scaffold import new_use_case

    new_use_case("faq-bot", root=root)
    charter, review = charter_lines(load_use_case("faq-bot", root), date.today())
    assert charter.status == FAIL and "charter.owner" in charter.evidence and "placeholders" in charter.fix
    assert review.status == PASS
    _, late = charter_lines(load_use_case(USE_CASE, root), date(2027, 4, 30))
    assert late.status == FAIL and late.evidence == "review date 2027-03-31 passed 30 days ago"


def test_coverage_needs_the_minimum_share_and_every_kind(root):
    evals = root / "evals" / USE_CASE
    for file in evals.glob("*.jsonl"):
        if file.name != "clean.jsonl":
            file.unlink()
    line = coverage_line(load_use_case(USE_CASE, root), root)
    assert line.status == FAIL
    assert re.match(r"0 of \d+ cases \(0%, minimum 30%\) are production-like", line.evidence)
    assert "none tagged noisy, edge, adversarial, pii" in line.evidence


def test_scope_changed_without_an_amendment_is_no_go(root):
    path = root / "usecases" / f"{USE_CASE}.yaml"
    path.write_text(path.read_text().replace("  min_accuracy: 0.85", "  min_accuracy: 0.80"))
    line = scope_line(load_use_case(USE_CASE, root))
    assert line.status == FAIL and "exit_criteria.min_accuracy: 0.85 -> 0.8" in line.evidence
    assert line.fix.startswith("liftoff charter amend --use-case fixture-triage")


def test_cost_over_the_budget_at_the_charters_volume_is_no_go(root):
    # Given an eval that measured $0.002 a request (over the cap's and the budget's room at 500 a day)
    folder = root / "reports" / USE_CASE / "20261130T100000Z"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps({"simulated": False}))
    rows = [{"id": "a", "ok": True, "input_tokens": 300, "output_tokens": 40, "cost_usd": 0.004}]
    (folder / "results.jsonl").write_text(json.dumps(rows[0]))
    line, chart = cost_line(load_use_case(USE_CASE, root), "prod")
    assert line.status == FAIL
    assert line.evidence.startswith("500 requests/day: $2.00/day of the $5 daily cap")
    assert "first limit reached: monthly budget (budget.monthly_usd)" in line.evidence
    assert chart["daily"] == (pytest.approx(2.0), 5) and chart["monthly"][1] == 50


def test_a_stage_it_cannot_read_is_a_plain_error(monkeypatch):
    # Given a stage whose registry table is not there (moto: no such table)
    import boto3
    from click.testing import CliRunner
    from moto import mock_aws

    from liftoff import readiness
    from service.dal.prompt_store import PromptStore

    with mock_aws():
        store = PromptStore(boto3.resource("dynamodb").Table("missing"), USE_CASE)
        monkeypatch.setattr(
            readiness, "stage_sources", lambda uc, stage: readiness.RegistrySources(store, "stage", uc, stage)
        )
        monkeypatch.setattr(readiness, "nag_findings", lambda use_case, stage: None)  # not what this test is about
        result = CliRunner().invoke(readiness.readiness_command, ["--use-case", USE_CASE, "--stage", "prod"])
    # Then it says what it could not read and what it needs, without a traceback
    assert result.exit_code == 1
    assert "cannot read stage prod of fixture-triage: prompt registry error: ResourceNotFoundException" in result.output
    assert "cloudwatch:GetMetricStatistics" in result.output
    assert result.exc_info[0] is SystemExit


def test_a_pass_under_criteria_tightened_since_is_judged_by_todays(root):
    # Given a real-model eval that passed accuracy 0.80 against the min_accuracy of its day, 0.75
    use_case = load_use_case(USE_CASE, root)
    criteria = use_case.config.exit_criteria
    folder = root / "reports" / USE_CASE / "20261130T120000Z"
    folder.mkdir(parents=True)
    measured = [
        ("accuracy", 0.80, 0.75, ">="),
        ("p95 latency", 900.0, criteria.p95_latency_ms, "<="),
        ("cost per request", 0.0001, criteria.max_cost_per_request_usd, "<="),
        ("error rate", 0.0, criteria.max_error_rate, "<="),
        ("invalid output rate", 0.0, criteria.max_invalid_output_rate, "<="),
    ]
    evaluated = {
        "use_case": USE_CASE, "prompt_id": "triage", "version": 1, "alias": "live",
        "content_hash": use_case.prompts[0].content_hash(), "model_id": "m", "guardrail": None,
        "guardrail_applied": True, "target": "api", "simulated": False, "git_commit": None, "eval_set_hash": "e",
        "stage": "prod",
    }  # fmt: skip
    runs = [{"criteria": [{"name": n, "measured": v, "threshold": t, "passed": True} for n, v, t, _ in measured]}]
    report = {"evaluated": evaluated, "runs": runs, "passed": True, "created_at": "2026-11-30T12:00:00"}
    (folder / "report.json").write_text(json.dumps(report))
    # When readiness judges it while usecases/fixture-triage.yaml asks min_accuracy 0.85
    assert criteria.min_accuracy > 0.80
    (line,) = criteria_lines(use_case, NoRegistry(), root)
    # Then it is not met: the evidence is judged against today's exit criteria, and the line says so
    assert line.status == FAIL
    assert f"accuracy 80.0% NOT MET (limit {criteria.min_accuracy:.1%})" in line.evidence
