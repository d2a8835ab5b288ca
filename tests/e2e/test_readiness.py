"""`liftoff readiness`: NO-GO in local mode (the simulator's evidence is "not measured on a real model"),
GO once every item has real evidence from a deployed stage (faked here: a real-model eval record in the
stage's registry, a deployed load test, smoke test and canary metric), NO-GO again when one is missing."""

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner
from moto import mock_aws

from liftoff import REPO_ROOT
from liftoff.cli import main
from liftoff.evals.evidence import EvalEvidence
from liftoff.foundation.usecases import load_use_case
from liftoff.last_results import write_result
from liftoff.local.runtime import create_prompts_table
from liftoff.readiness import FAIL, NOT_MEASURED, NOT_REAL, PASS, RegistrySources, html_report, readiness
from service.dal.prompt_store import PromptStore

pytestmark = pytest.mark.e2e
USE_CASE = "fixture-triage"
ITEMS = [
    "charter",
    "exit criteria: triage",
    "production-like data",
    "load at peak rate",
    "cost at expected volume",
    "smoke test",
    "golden canary",
    "security checks at synth",
    "scope",
    "review date",
]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_in_local_mode_readiness_is_no_go_and_says_accuracy_was_not_measured_on_a_real_model(local):
    runner = CliRunner()
    # Given a local eval of the live version: the simulator answered
    ran = runner.invoke(main, ["eval", "run", "--use-case", USE_CASE, "--limit", "12"])
    assert ran.exit_code in (0, 1), ran.output
    # and a local smoke test and golden canary run, which leave their last results for readiness
    smoked = runner.invoke(main, ["smoke", "--local", "--use-case", USE_CASE, "--log-wait", "10"])
    assert smoked.exit_code == 0, smoked.output
    assert runner.invoke(main, ["canary", "run", "--use-case", USE_CASE]).exit_code == 0
    # When readiness is asked in local mode
    result = runner.invoke(main, ["readiness", "--use-case", USE_CASE, "--json"])
    # Then it is NO-GO (exit 1), with one line for each item of the definition of done
    assert result.exit_code == 1, result.output
    verdict = json.loads(result.stdout)
    assert verdict["verdict"] == "NO-GO"
    lines = {line["item"]: line for line in verdict["lines"]}
    assert list(lines) == ITEMS
    accuracy = lines["exit criteria: triage"]
    assert accuracy["status"] == NOT_MEASURED
    assert NOT_REAL in accuracy["evidence"] and "(live, sha256:" in accuracy["evidence"]
    assert accuracy["date"] and accuracy["source"].endswith("report.json")
    assert accuracy["fix"].startswith("liftoff eval run --use-case fixture-triage --target api")
    assert lines["security checks at synth"]["status"] == PASS
    assert lines["scope"]["status"] == PASS
    for item in ("load at peak rate", "smoke test", "golden canary"):
        assert lines[item]["status"] != PASS, item  # nothing local is enough
    assert lines["smoke test"]["evidence"].startswith("local mode only: ")
    assert "checks passed" in lines["smoke test"]["evidence"]
    assert "last local run (simulator): " in lines["golden canary"]["evidence"]
    # and the terminal table and the stakeholder's report (HTML and Markdown) are written
    shown = runner.invoke(main, ["readiness", "--use-case", USE_CASE])
    assert shown.exit_code == 1
    met = sum(line["ok"] for line in verdict["lines"])
    assert f"NO-GO: {met} of {len(ITEMS)} items met" in shown.stdout
    assert "NOT MEASURED" in shown.stdout and "exit" in shown.stdout
    folder = REPO_ROOT / shown.stdout.rsplit("report: ", 1)[1].split("/readiness.html", 1)[0]
    page = (folder / "readiness.html").read_text()
    assert "NO-GO" in page and "not measured on a real model" in page and "<svg" in page
    assert "| exit criteria: triage | NOT MEASURED |" in (folder / "readiness.md").read_text()


@pytest.fixture
def project(scratch_project):
    return scratch_project


def _real_eval(root, spec, *, simulated=False, passed=True):
    """A report.json and results.jsonl as `liftoff eval run --target api --stage prod --version 1` writes them."""
    criteria = load_use_case(USE_CASE, root).config.exit_criteria
    measured = [
        ("accuracy", 0.91, criteria.min_accuracy),
        ("p95 latency", 1840.0, criteria.p95_latency_ms),
        ("cost per request", 0.00051, criteria.max_cost_per_request_usd),
        ("error rate", 0.0, criteria.max_error_rate),
        ("invalid output rate", 0.0, criteria.max_invalid_output_rate),
    ]
    report = {
        "use_case": USE_CASE,
        "created_at": "2026-11-30T10:00:00+00:00",
        "simulated": simulated,
        "evaluated": {
            "use_case": USE_CASE,
            "prompt_id": spec.prompt_id,
            "version": 1,
            "alias": "live",
            "content_hash": spec.content_hash(),
            "model_id": spec.model_id,
            "guardrail": {"id": "gr-123", "version": "1"},
            "guardrail_applied": True,
            "target": "api",
            "simulated": simulated,
            "git_commit": "abc123",
            "eval_set_hash": "e" * 64,
            "stage": "prod",
        },
        "runs": [
            {
                "criteria": [
                    {"name": n, "measured": v, "threshold": t, "passed": passed or n != "accuracy"}
                    for n, v, t in measured
                ]
            }
        ],
        "passed": passed,
    }
    folder = root / "reports" / USE_CASE / "20261130T100000Z"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(report))
    rows = [{"id": str(i), "ok": True, "input_tokens": 250, "output_tokens": 35, "cost_usd": 0.00051} for i in range(5)]
    (folder / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return report


def _deployed_results(root):
    write_result(
        USE_CASE, "load", "prod", {"requests": 1200, "rps": 4.1, "users": 6, "p95_ms": 1900.0, "error_rate": 0.0}, root
    )
    write_result(USE_CASE, "smoke", "prod", {"passed": True, "checks": 14, "failed": [], "skipped": 0}, root)


@pytest.fixture
def stage(project):
    """Stage prod's registry (moto) with v1 live, and its CloudWatch (a Stubber answering the canary metric)."""
    with mock_aws():
        create_prompts_table(boto3.client("dynamodb"), "prod-prompts")
        store = PromptStore(boto3.resource("dynamodb").Table("prod-prompts"), USE_CASE)
        spec = load_use_case(USE_CASE, project).prompts[0]
        store.publish(spec, author="deploy")
        cloudwatch = boto3.client("cloudwatch")
        with Stubber(cloudwatch) as stub:
            yield store, spec, cloudwatch, stub


def _canary_answers(stub, accuracy, times=1):
    for _ in range(times):
        stub.add_response(
            "get_metric_statistics",
            {"Label": "CanaryAccuracy", "Datapoints": [{"Timestamp": NOW, "Minimum": accuracy}]},
            {
                "Namespace": "Liftoff",
                "MetricName": "CanaryAccuracy",
                "Dimensions": [{"Name": "UseCase", "Value": USE_CASE}, {"Name": "Stage", "Value": "prod"}],
                "StartTime": ANY,
                "EndTime": ANY,
                "Period": 3600,
                "Statistics": ["Minimum"],
            },
        )


def test_with_real_model_evidence_on_the_stage_readiness_is_go(project, stage):
    store, spec, cloudwatch, stub = stage
    # Given a passing real-model eval of live v1 in the stage's registry, a deployed load test at the
    # charter's peak, a passing deployed smoke test and a canary above min_accuracy
    report = _real_eval(project, spec)
    store.record_evidence(_evidence(report, project))
    _deployed_results(project)
    _canary_answers(stub, 0.95)
    sources = RegistrySources(store, "stage prod's registry", USE_CASE, "prod", cloudwatch, now=lambda: NOW)
    # When readiness judges stage prod
    verdict = readiness(USE_CASE, "prod", sources=sources, root=project, now=NOW)
    # Then it is GO, every line met with its evidence
    assert [line.item for line in verdict.lines] == ITEMS
    assert verdict.go, [(line.item, line.status, line.evidence) for line in verdict.lines if not line.ok]
    accuracy = verdict.lines[1]
    assert "triage v1 (live" in accuracy.evidence and "on a real model" in accuracy.evidence
    assert "accuracy 91.0% (limit 85.0%)" in accuracy.evidence
    assert "GO</p>" in html_report(verdict)


def test_simulator_evidence_a_failed_canary_or_a_passed_review_date_is_no_go(project, stage):
    store, spec, cloudwatch, stub = stage
    # Given the same stage, but the only eval of v1 came from the simulator, and the canary is below min_accuracy
    report = _real_eval(project, spec, simulated=True)
    store.record_evidence(_evidence(report, project))
    _deployed_results(project)
    _canary_answers(stub, 0.60, times=2)
    sources = RegistrySources(store, "stage prod's registry", USE_CASE, "prod", cloudwatch, now=lambda: NOW)
    verdict = readiness(USE_CASE, "prod", sources=sources, root=project, now=NOW)
    lines = {line.item: line for line in verdict.lines}
    assert not verdict.go
    assert lines["exit criteria: triage"].status == NOT_MEASURED and NOT_REAL in lines["exit criteria: triage"].evidence
    assert lines["golden canary"].status == FAIL and "60%" in lines["golden canary"].evidence
    # When the review date has passed too
    later = datetime(2027, 4, 2, tzinfo=UTC)
    review = {line.item: line for line in readiness(USE_CASE, "prod", sources=sources, root=project, now=later).lines}
    assert review["review date"].status == FAIL and "passed 2 days ago" in review["review date"].evidence


def _evidence(report, root):
    from liftoff.evals.evidence import evidence_from_report

    found = evidence_from_report(report, str(root / "reports" / USE_CASE / "20261130T100000Z" / "report.json"))
    assert isinstance(found, EvalEvidence)
    return found
