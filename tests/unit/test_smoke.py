"""The smoke test's checks fail when they should: a fake deployment with each fault, and the AWS
target's resource checks against Stubber-faked CloudWatch."""

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
    check = smoke.check_registry(SilentTarget(), load_use_case("support-triage"))
    assert check.status == smoke.FAIL and "no live version of triage" in check.detail


def test_an_unreachable_api_fails_the_good_request_and_every_bad_one():
    checks = smoke.run_smoke(SilentTarget(live={"triage": 1}), load_use_case("support-triage"), log_wait_s=0)
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
    target._outputs = {"DashboardName": "liftoff-support-triage-sandbox"}
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
    target._outputs = {"DashboardName": "liftoff-support-triage-sandbox-eu-west-1"}
    stub.add_response(
        "get_dashboard",
        {"DashboardName": "liftoff-support-triage-sandbox-eu-west-1", "DashboardBody": "{}"},
        {"DashboardName": "liftoff-support-triage-sandbox-eu-west-1"},
    )
    # When smoke checks it / Then it asked for exactly that name, and passes
    with stub:
        check = target.dashboard()
    assert check == Check("dashboard", smoke.PASS, "liftoff-support-triage-sandbox-eu-west-1")
