"""The golden canary and the prompt canary's auto-rollback, as synthesized: the schedule and its input,
the canary function's and the rollback function's exact permissions, the rule that joins the canary
alarms to the rollback."""

import json

from liftoff.canary import canary_payload
from liftoff.config import schedule_seconds

USE_CASE = "support-triage"


def _statements(template, role_prefix: str) -> dict:
    (policy,) = [p for name, p in template.find_resources("AWS::IAM::Policy").items() if name.startswith(role_prefix)]
    return {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def _function(template, handler: str) -> tuple[str, dict]:
    ((name, function),) = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": handler}}).items()
    return name, function


def test_the_schedule_runs_the_golden_cases_of_this_commit(template, stage):
    (schedule,) = template.find_resources("AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == stage.canary_schedule
    assert schedule_seconds(stage.canary_schedule) == (3600 if stage.name == "prod" else 86_400)
    canary_name, _ = _function(template, "service.handlers.canary.lambda_handler")
    assert props["Target"]["Arn"] == {"Fn::GetAtt": [canary_name, "Arn"]}
    assert json.loads(props["Target"]["Input"]) == canary_payload(USE_CASE)
    assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0  # a retry would bill the cases twice


def test_the_canary_function_runs_the_invoke_path_with_its_grants_minus_the_api_only_ones(template):
    statements = _statements(template, "CanaryFunctionRole")
    assert set(statements) == {
        "InvokeConfiguredModels",
        "ReadPromptRegistry",
        "ReadAndAddSpend",
        "ApplyOwnGuardrail",
        "WriteOwnLogs",
        None,  # X-Ray's two actions, which take no resource
    }
    _, function = _function(template, "service.handlers.canary.lambda_handler")
    assert function["Properties"]["Timeout"] == 900


def test_the_rollback_may_move_aliases_and_tell_the_topic_only(template):
    statements = _statements(template, "GoldenCanaryRollbackRole")
    assert statements["EndPromptCanaries"]["Action"] == [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:PutItem",
    ]
    assert statements["EndPromptCanaries"]["Resource"]["Fn::GetAtt"][0].startswith("PromptsTable")
    assert statements["NotifyAlarmTopic"] == {
        "Action": "sns:Publish",
        "Effect": "Allow",
        "Resource": {"Ref": statements["NotifyAlarmTopic"]["Resource"]["Ref"]},
        "Sid": "NotifyAlarmTopic",
    }
    assert statements["UseAlarmTopicKey"]["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert set(statements) - {None} == {"EndPromptCanaries", "NotifyAlarmTopic", "UseAlarmTopicKey", "WriteOwnLogs"}


def test_the_canary_alarms_trigger_the_rollback_through_eventbridge(template, stage):
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"]["state"] == {"value": ["ALARM"]}
    prefix = f"liftoff-{USE_CASE}-{stage.name}-"
    assert sorted(pattern["detail"]["alarmName"]) == sorted(
        prefix + name for name in ("CanaryVersionAccuracy", "CanaryVersionErrorRate", "CanaryVersionLatencyP95")
    )
    rollback_name, _ = _function(template, "service.handlers.canary_rollback.lambda_handler")
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [rollback_name, "Arn"]}
    # every alarm the rule names exists, and the stable canary's alarm is on min_accuracy
    names = {a["Properties"]["AlarmName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()}
    assert set(pattern["detail"]["alarmName"]) <= names
    assert prefix + "CanaryAccuracy" in names
