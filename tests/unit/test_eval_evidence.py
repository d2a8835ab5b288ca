"""What an eval evaluated, and the record it leaves: report.json's `evaluated` and `passed`, the
EvalEvidence made from it, and the registry that keeps it (the contract readiness reads too)."""

import json

import pytest

from liftoff.evals.evidence import EvalEvidence, Evaluated, eval_set_hash, evidence_from_report
from liftoff.evals.report import GUARDRAIL_NOT_APPLIED, latency_text, write_report
from liftoff.evals.runner import LATENCY_WARM, CaseResult, Run, summarize
from liftoff.evals.targets import Answer
from liftoff.foundation.config import ExitCriteria
from liftoff.foundation.eval_cases import EvalCase

CRITERIA = ExitCriteria(min_accuracy=0.5, p95_latency_ms=100, max_cost_per_request_usd=0.01)
CASES = [EvalCase(id="a", variables={"message": "x"}, tags=["clean"])]


def evaluated(**changes) -> Evaluated:
    values = {
        "use_case": "fixture-triage",
        "prompt_id": "triage",
        "version": 2,
        "alias": None,
        "content_hash": "ab" * 32,
        "model_id": "us.amazon.nova-micro-v1:0",
        "guardrail": {"id": "gr-1", "version": "3"},
        "guardrail_applied": True,
        "target": "api",
        "simulated": False,
        "git_commit": "c0ffee",
        "eval_set_hash": eval_set_hash(CASES),
        "stage": "sandbox",
    }
    return Evaluated(**(values | changes))


def run_of(*latencies_and_cold: tuple[float, bool], exclude_cold: bool = False, warmed=()) -> Run:
    results = [
        CaseResult(f"c{i}", ["clean"], "pass", Answer(ok=True, output="{}", latency_ms=ms, cold_start=cold))
        for i, (ms, cold) in enumerate(latencies_and_cold)
    ]
    summary = summarize(
        results, CRITERIA, target="t", model="m", duration_s=1, exclude_cold=exclude_cold, warmup_cold_ms=list(warmed)
    )
    return Run(summary, results)


def test_report_json_names_what_was_evaluated_and_becomes_evidence(tmp_path):
    # Given a passing run of v2 through a deployed API
    run = run_of((20, False), (30, False))
    # When the report is written
    out = write_report("fixture-triage", [run], CRITERIA, simulated=False, evaluated=evaluated(), directory=tmp_path)
    report = json.loads((out / "report.json").read_text())
    # Then it says what was evaluated, and whether every criterion was met
    assert report["evaluated"] == evaluated().to_dict()
    assert report["passed"] is True
    # and it is evidence for exactly that version and hash, from a real model
    evidence = evidence_from_report(report, str(out / "report.json"))
    assert (evidence.prompt_id, evidence.version, evidence.content_hash) == ("triage", 2, "ab" * 32)
    assert evidence.passed and evidence.real_model and evidence.report == str(out / "report.json")
    assert evidence.criteria["p95 latency"] == {"value": 30, "limit": 100, "met": True}
    assert (evidence.guardrail_id, evidence.guardrail_version) == ("gr-1", "3")
    # and the Markdown and HTML say it too
    for name in ("report.md", "report.html"):
        text = (out / name).read_text()
        assert "triage v2" in text and "sha256:" + "ab" * 32 in text


@pytest.mark.parametrize(
    ("changes", "real"),
    [({"target": "local", "simulated": True}, False), ({"target": "bedrock", "simulated": True}, False)],
)
def test_simulated_evidence_is_not_a_real_model(tmp_path, changes, real):
    out = write_report(
        "fixture-triage",
        [run_of((1, False))],
        CRITERIA,
        simulated=True,
        evaluated=evaluated(**changes),
        directory=tmp_path,
    )
    evidence = evidence_from_report(json.loads((out / "report.json").read_text()), "r")
    assert evidence.real_model is real


def test_a_working_copy_run_is_no_evidence_and_says_unpublished(tmp_path):
    out = write_report(
        "fixture-triage",
        [run_of((1, False))],
        CRITERIA,
        simulated=False,
        evaluated=evaluated(version=None, target="bedrock"),
        directory=tmp_path,
    )
    assert evidence_from_report(json.loads((out / "report.json").read_text()), "r") is None
    assert "working copy (unpublished)" in (out / "report.md").read_text()


def test_a_run_without_the_guardrail_says_so_in_every_report(tmp_path):
    what = evaluated(target="bedrock", guardrail=None, guardrail_applied=False)
    out = write_report(
        "fixture-triage", [run_of((1, False))], CRITERIA, simulated=False, evaluated=what, directory=tmp_path
    )
    for name in ("report.md", "report.html"):
        assert GUARDRAIL_NOT_APPLIED in (out / name).read_text()
    assert json.loads((out / "report.json").read_text())["evaluated"]["guardrail_applied"] is False


def test_local_p95_is_judged_on_warm_requests_and_counts_the_cold_ones():
    # Given two local cold starts of 3 s among warm requests of 30 ms
    latencies = [(3000, True), (3100, True), *[(30, False)] * 8]
    # When judged as local mode is (cold starts set aside) / Then p95 meets 100 ms, both figures kept
    local = run_of(*latencies, exclude_cold=True, warmed=[2000, 2500]).summary
    assert local.latency_basis == LATENCY_WARM and local.cold_starts_excluded == 2
    assert (local.environments_warmed, local.cold_start_ms) == (2, [2000, 2500, 3000, 3100])
    assert "4 cold start(s) set aside (2 warming the environments first, 2 during the run" in latency_text(local)
    assert local.latency_p95_ms == 30 and local.latency_p95_all_ms > 3000
    assert next(c for c in local.criteria if c.name == "p95 latency").passed
    # When judged as a deployed target is (every request) / Then the cold starts count
    deployed = run_of(*latencies).summary
    assert deployed.cold_starts_excluded == 0 and deployed.latency_p95_ms > 3000
    assert not next(c for c in deployed.criteria if c.name == "p95 latency").passed


def test_eval_set_hash_follows_the_cases():
    other = [CASES[0].model_copy(update={"variables": {"message": "y"}})]
    assert eval_set_hash(CASES) == eval_set_hash(list(CASES)) != eval_set_hash(other)


def _evidence(version: int, created: str, **changes) -> EvalEvidence:
    values = {
        "use_case": "fixture-triage",
        "prompt_id": "triage",
        "version": version,
        "content_hash": f"hash{version}",
        "model_id": "m",
        "guardrail_id": None,
        "guardrail_version": None,
        "guardrail_applied": False,
        "target": "local",
        "simulated": True,
        "git_commit": None,
        "eval_set_hash": "e",
        "passed": True,
        "criteria": {"accuracy": {"value": 0.9, "limit": 0.8, "met": True}},
        "report": "reports/x/report.json",
        "created": created,
    }
    return EvalEvidence(**(values | changes))


def test_the_registry_keeps_evidence_per_version_newest_first(store, triage):
    # Given v1 published and three records, two of v2
    store.publish(triage.prompts[0], author="t")
    store.record_evidence(_evidence(2, "2026-01-01T10:00:00.000+00:00", passed=False))
    store.record_evidence(_evidence(1, "2026-01-01T11:00:00.000+00:00"))
    store.record_evidence(_evidence(2, "2026-01-01T12:00:00.000+00:00"))
    # When read back / Then per version, newest first, every field intact (floats, None)
    v2 = store.list_evidence("triage", version=2)
    assert [(e.created[11:13], e.passed) for e in v2] == [("12", True), ("10", False)]
    assert v2[0] == _evidence(2, "2026-01-01T12:00:00.000+00:00")
    assert [e.version for e in store.list_evidence("triage")] == [2, 1, 2]
    assert store.list_evidence("other") == []
    # and records are not versions: the registry still lists v1 only
    assert [v.version for v in store.list_versions("triage")] == [1]
    assert store.list_prompt_ids() == ["triage"]


def test_a_run_of_part_of_the_eval_set_says_so_in_the_report_and_its_record(tmp_path):
    # Given a run narrowed by --limit, --tag or --file
    out = write_report(
        "fixture-triage", [run_of((20, False))], CRITERIA, simulated=False, evaluated=evaluated(sample=True),
        directory=tmp_path,
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    # Then the report and the record say it was a sample, which a stage's gate and readiness do not count
    assert report["evaluated"]["sample"] is True
    assert evidence_from_report(report, str(out / "report.json")).sample is True
    assert "a sample of the eval set" in (out / "report.md").read_text()
    # and a report written before the field existed reads as the whole set
    del report["evaluated"]["sample"]
    assert evidence_from_report(report, "old").sample is False
