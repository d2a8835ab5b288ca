"""The smoke test's checks fail when they should: a fake deployment with each fault, and the AWS
target's resource checks against Stubber-faked CloudWatch."""

from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from liftoff import smoke
from liftoff.doctor import Check
from liftoff.foundation.usecases import load_use_case


class SilentTarget:
    """A deployment that answers nothing and logs nothing (nothing listens on port 9)."""

    name = "silent"
    invoke_url = "http://127.0.0.1:9/v1/invoke"
    api_key = "k"

    def __init__(self, live=None, records=()):
        self._live, self._records = live or {}, list(records)

    def live_versions(self, prompt_ids):
        return {pid: self._live.get(pid) for pid in prompt_ids}

    def spend_today(self):
        return 0.0, 0

    def log_records(self, since_ms):
        yield from self._records

    def dashboard(self):
        return None

    def alarms(self):
        return None


def test_a_prompt_without_live_version_fails():
    check = smoke.check_registry(SilentTarget(), load_use_case("fixture-triage"))
    assert check.status == smoke.FAIL and "no live version of triage" in check.detail


def test_an_unreachable_api_fails_the_good_request_and_every_bad_one():
    checks = smoke.run_smoke(SilentTarget(live={"triage": 1}), load_use_case("fixture-triage"), log_wait_s=0)
    by_name = {c.name: c for c in checks}
    assert by_name["good request"].status == smoke.FAIL
    assert all(c.status == smoke.FAIL for n, c in by_name.items() if n.startswith("bad:"))
    assert smoke.exit_code(checks) == 1


def test_a_log_line_that_never_comes_fails_after_a_bounded_wait():
    slept = []
    target = SilentTarget(records=[{"message": "invoke ok", "request_id": "someone-else"}])
    found = smoke.wait_for_record(target, 0, lambda r: r.get("request_id") == "mine", 0.3, sleep=slept.append)
    assert found is None and slept  # it looked again, then gave up
    checks = smoke.check_telemetry(target, "mine", 0, 0)
    assert [c.status for c in checks] == [smoke.FAIL, smoke.FAIL]


def test_spend_that_did_not_move_fails():
    assert smoke.check_spend((1.0, 10), (1.0, 10), 0.001).status == smoke.FAIL
    assert smoke.check_spend((1.0, 10), (1.001, 11), 0.001).status == smoke.PASS


@pytest.fixture
def aws_target():
    """An AwsTarget with its stack already read: only the CloudWatch client is exercised."""
    target = object.__new__(smoke.AwsTarget)
    target._outputs = {"DashboardName": "liftoff-fixture-triage-sandbox"}
    target._resources = [
        {"ResourceType": "AWS::CloudWatch::Alarm", "PhysicalResourceId": f"alarm-{i}"} for i in range(3)
    ] + [{"ResourceType": "AWS::Lambda::Function", "PhysicalResourceId": "fn"}]
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")

    class Session:
        def client(self, name):
            assert name == "cloudwatch"
            return cloudwatch

    target._session = Session()
    return target, Stubber(cloudwatch)


def alarm(name, state="OK"):
    return {"AlarmName": name, "StateValue": state}


def test_every_alarm_of_the_stack_must_exist(aws_target):
    target, stub = aws_target
    names = ["alarm-0", "alarm-1", "alarm-2"]
    stub.add_response("describe_alarms", {"MetricAlarms": [alarm("alarm-0"), alarm("alarm-2")]}, {"AlarmNames": names})
    with stub:
        check = target.alarms()
    assert check.status == smoke.FAIL and "alarm-1" in check.detail


def test_alarms_pass_when_all_exist_and_say_their_states(aws_target):
    target, stub = aws_target
    names = ["alarm-0", "alarm-1", "alarm-2"]
    answer = {"MetricAlarms": [alarm("alarm-0"), alarm("alarm-1", "INSUFFICIENT_DATA"), alarm("alarm-2")]}
    stub.add_response("describe_alarms", answer, {"AlarmNames": names})
    stub.add_response("describe_alarms", answer, {"AlarmNames": names})
    with stub:
        check = target.alarms()
    assert check == Check("alarms", smoke.PASS, "3 exist (1 INSUFFICIENT_DATA, 2 OK)")


def test_a_missing_dashboard_fails(aws_target):
    target, stub = aws_target
    stub.add_client_error("get_dashboard", "ResourceNotFound", "Dashboard does not exist", http_status_code=404)
    with stub:
        assert target.dashboard().status == smoke.FAIL


def test_an_answer_without_a_feedback_token_fails_the_feedback_check():
    (check,) = smoke.check_feedback(SilentTarget(), {"request_id": "r", "feedback_token": None})
    assert check.status == smoke.FAIL and "no feedback_token" in check.detail
    (unreachable,) = smoke.check_feedback(SilentTarget(), {"request_id": "r", "feedback_token": "t"})
    assert unreachable.status == smoke.FAIL and "/v1/feedback" in unreachable.detail


def test_the_dashboard_check_asks_for_the_name_the_stack_outputs(aws_target):
    # Given a stack whose dashboard name carries its Region (dashboards are global to the account)
    target, stub = aws_target
    target._outputs = {"DashboardName": "liftoff-fixture-triage-sandbox-eu-west-1"}
    stub.add_response(
        "get_dashboard",
        {"DashboardName": "liftoff-fixture-triage-sandbox-eu-west-1", "DashboardBody": "{}"},
        {"DashboardName": "liftoff-fixture-triage-sandbox-eu-west-1"},
    )
    # When smoke checks it / Then it asked for exactly that name, and passes
    with stub:
        check = target.dashboard()
    assert check == Check("dashboard", smoke.PASS, "liftoff-fixture-triage-sandbox-eu-west-1")


# --- a retrieval use case (knowledge:) ------------------------------------------------------------------

FIXTURE_PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "project"
KB_ID, DS_ID = "KB12345678", "DS12345678"
IDS = {"knowledgeBaseId": KB_ID, "dataSourceId": DS_ID}
WHEN = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def rag():
    return load_use_case("fixture-rag", FIXTURE_PROJECT)


@pytest.fixture
def rag_target():
    """An AwsTarget of the fixture retrieval use case with its stack already read: bedrock-agent is stubbed."""
    target = object.__new__(smoke.AwsTarget)
    target._use_case, target._stage, target._stack = "fixture-rag", "sandbox", "Liftoff-fixture-rag-sandbox"
    target._outputs = {"KnowledgeBaseId": KB_ID, "DataSourceId": DS_ID, "DocumentsBucket": "docs"}
    agent = boto3.client("bedrock-agent", region_name="us-east-1")

    class Session:
        def client(self, name):
            assert name == "bedrock-agent"
            return agent

    target._session = Session()
    with Stubber(agent) as stub:
        yield target, stub
        stub.assert_no_pending_responses()


def knowledge_base(state="ACTIVE"):
    return {
        "knowledgeBase": {
            "knowledgeBaseId": KB_ID,
            "name": "liftoff-fixture-rag-sandbox",
            "knowledgeBaseArn": f"arn:aws:bedrock:us-east-1:123456789012:knowledge-base/{KB_ID}",
            "roleArn": "arn:aws:iam::123456789012:role/kb",
            "knowledgeBaseConfiguration": {"type": "VECTOR"},
            "storageConfiguration": {"type": "S3_VECTORS"},
            "status": state,
            "createdAt": WHEN,
            "updatedAt": WHEN,
        }
    }


def stub_last_job(stub, state, failure_reasons=None, documents=()):
    times = {"startedAt": WHEN, "updatedAt": WHEN}
    stub.add_response(
        "list_ingestion_jobs",
        {"ingestionJobSummaries": [{**IDS, "ingestionJobId": "JOB0000001", "status": state, **times}]},
        {**IDS, "sortBy": {"attribute": "STARTED_AT", "order": "DESCENDING"}, "maxResults": 1},
    )
    job = {
        **IDS,
        "ingestionJobId": "JOB0000001",
        "status": state,
        **times,
        "statistics": {"numberOfDocumentsScanned": 5},
    }
    if failure_reasons:
        job["failureReasons"] = failure_reasons
    stub.add_response("get_ingestion_job", {"ingestionJob": job}, {**IDS, "ingestionJobId": "JOB0000001"})
    if state == "COMPLETE":
        details = [
            {
                **IDS,
                "status": status,
                "identifier": {"dataSourceType": "S3", "s3": {"uri": f"s3://docs/{name}"}},
                "statusReason": "could not be parsed",
            }
            for name, status in documents
        ]
        stub.add_response("list_knowledge_base_documents", {"documentDetails": details}, IDS)


def test_an_active_knowledge_base_with_a_complete_ingestion_passes(rag, rag_target):
    target, stub = rag_target
    stub.add_response("get_knowledge_base", knowledge_base(), {"knowledgeBaseId": KB_ID})
    stub_last_job(stub, "COMPLETE", documents=[("leave-policy.md", "INDEXED")])
    base, ingestion = target.knowledge_base(rag)
    assert base == Check(
        "knowledge base", smoke.PASS, f"{KB_ID} (liftoff-fixture-rag-sandbox) ACTIVE, storage S3_VECTORS"
    )
    assert ingestion.status == smoke.PASS and "JOB0000001 COMPLETE: scanned 5" in ingestion.detail


def test_failed_documents_are_a_warning_with_their_count(rag, rag_target):
    target, stub = rag_target
    stub.add_response("get_knowledge_base", knowledge_base(), {"knowledgeBaseId": KB_ID})
    stub_last_job(stub, "COMPLETE", documents=[("a.pdf", "FAILED"), ("b.md", "INDEXED"), ("c.md", "PARTIALLY_INDEXED")])
    _, ingestion = target.knowledge_base(rag)
    assert ingestion.status == smoke.WARN and "2 documents did not index" in ingestion.detail
    assert smoke.exit_code([ingestion]) == 0  # a warning does not fail the smoke test


def test_a_failed_ingestion_and_a_knowledge_base_that_is_not_active_fail(rag, rag_target):
    target, stub = rag_target
    stub.add_response("get_knowledge_base", knowledge_base("FAILED"), {"knowledgeBaseId": KB_ID})
    stub_last_job(stub, "FAILED", failure_reasons=["not authorized to perform s3vectors:PutVectors"])
    base, ingestion = target.knowledge_base(rag)
    assert base.status == smoke.FAIL and "FAILED" in base.detail
    assert ingestion.status == smoke.FAIL and "s3vectors:PutVectors" in ingestion.detail
    assert "liftoff kb sync --use-case fixture-rag --stage sandbox" in ingestion.fix


def test_no_ingestion_yet_fails_and_says_to_sync(rag, rag_target):
    target, stub = rag_target
    stub.add_response("get_knowledge_base", knowledge_base(), {"knowledgeBaseId": KB_ID})
    stub.add_response(
        "list_ingestion_jobs",
        {"ingestionJobSummaries": []},
        {**IDS, "sortBy": {"attribute": "STARTED_AT", "order": "DESCENDING"}, "maxResults": 1},
    )
    _, ingestion = target.knowledge_base(rag)
    assert (
        ingestion.status == smoke.FAIL
        and ingestion.fix == "run `liftoff kb sync --use-case fixture-rag --stage sandbox`"
    )


def test_a_knowledge_base_the_caller_may_not_read_fails_naming_the_action(rag, rag_target):
    target, stub = rag_target
    stub.add_client_error("get_knowledge_base", "AccessDeniedException", "denied", 403)
    (base,) = target.knowledge_base(rag)
    assert base.status == smoke.FAIL and "bedrock:GetKnowledgeBase" in base.detail


def test_a_stack_without_the_knowledge_base_outputs_fails(rag, rag_target):
    target, _ = rag_target
    target._outputs = {"InvokeUrl": "https://x"}
    (base,) = target.knowledge_base(rag)
    assert base.status == smoke.FAIL and "deploy it again" in base.fix


def answer_with(citations, outcome="answered"):
    return 200, {"output": "...", "citations": citations, "retrieval": {"outcome": outcome, "passages": []}}


def test_the_grounded_question_is_a_clean_answerable_case_that_names_its_sources(rag):
    request, case_id = smoke.grounded_request(rag)
    assert case_id == "hotel-cap-capital"  # the first clean case with expected_sources, not an unanswerable one
    assert request == {
        "prompt_id": "answer",
        "variables": {"question": "What is the hotel cap per night in capital cities?"},
    }


def test_an_answer_citing_a_document_of_the_use_case_passes(rag, monkeypatch):
    cited = [{"id": "P1", "source": "travel-policy-2026.md", "source_uri": "s3://docs/travel-policy-2026.md"}]
    monkeypatch.setattr(smoke, "_post", lambda url, body, headers: answer_with(cited))
    check = smoke.check_grounded_answer(SilentTarget(), rag)
    assert check == Check("grounded answer", smoke.PASS, "case hotel-cap-capital: 1 citation of travel-policy-2026.md")


def test_an_answer_without_citations_or_citing_unknown_sources_fails(rag, monkeypatch):
    monkeypatch.setattr(smoke, "_post", lambda url, body, headers: answer_with([], "no_context"))
    uncited = smoke.check_grounded_answer(SilentTarget(), rag)
    assert uncited.status == smoke.FAIL and "no citation (retrieval outcome no_context)" in uncited.detail
    foreign = [{"id": "P1", "source": "someone-elses.md"}]
    monkeypatch.setattr(smoke, "_post", lambda url, body, headers: answer_with(foreign))
    check = smoke.check_grounded_answer(SilentTarget(), rag)
    assert check.status == smoke.FAIL and "none of them a document of knowledge/fixture-rag/" in check.detail


def test_a_use_case_without_knowledge_runs_no_retrieval_check():
    checks = smoke.run_smoke(SilentTarget(live={"triage": 1}), load_use_case("fixture-triage"), log_wait_s=0)
    assert not {"knowledge base", "last ingestion", "grounded answer"} & {c.name for c in checks}


def test_a_warning_is_counted_and_shows_its_fix():
    text = smoke.render([Check("a", smoke.PASS, "ok"), Check("b", smoke.WARN, "2 documents", "liftoff kb status")], "t")
    assert "WARN  b  2 documents  -> liftoff kb status" in text
    assert text.endswith("smoke: 1 passed, 1 warned (2 checks)")


def test_local_mode_checks_the_stand_in_for_what_it_indexed(rag):
    # Given no local mode running: the stand-in indexes the documents folder in this process
    base, ingestion = smoke.local_knowledge_base_checks(rag)
    assert base.status == smoke.PASS and "lexical" in base.detail and "5 documents" in base.detail
    assert ingestion.status == smoke.PASS and ingestion.detail.endswith("knowledge/fixture-rag indexed")


def test_an_eval_set_that_does_not_load_is_the_grounded_checks_finding(rag, tmp_path):
    import dataclasses
    import shutil

    # Given the fixture project with an eval case naming a document that is not in the knowledge folder
    shutil.copytree(FIXTURE_PROJECT, tmp_path / "project")
    (tmp_path / "project" / "knowledge" / "fixture-rag" / "travel-policy-2026.md").unlink()
    moved = dataclasses.replace(rag, root=tmp_path / "project")
    # When the grounded check picks its question: Then it fails saying why, and asks nothing
    check = smoke.check_grounded_answer(SilentTarget(), moved)
    assert check.status == smoke.FAIL and check.detail.startswith("the eval set does not load:")
    assert "travel-policy-2026.md" in check.detail


def test_each_data_source_of_the_stack_has_its_last_ingestion_checked(rag, rag_target):
    # Given a stack with two data sources (the repository's folder and an existing bucket); the second never ran
    target, stub = rag_target
    target._outputs = {**target._outputs, "DataSourceIds": f"{DS_ID},DS87654321"}
    stub.add_response("get_knowledge_base", knowledge_base(), {"knowledgeBaseId": KB_ID})
    stub_last_job(stub, "COMPLETE", documents=[])
    stub.add_response(
        "list_ingestion_jobs",
        {"ingestionJobSummaries": []},
        {
            "knowledgeBaseId": KB_ID,
            "dataSourceId": "DS87654321",
            "sortBy": {"attribute": "STARTED_AT", "order": "DESCENDING"},
            "maxResults": 1,
        },
    )
    # When the knowledge base is checked: Then each data source is a line of its own
    checks = {c.name: c for c in target.knowledge_base(rag)}
    assert checks[f"last ingestion ({DS_ID})"].status == smoke.PASS
    assert checks["last ingestion (DS87654321)"].status == smoke.FAIL
