"""The golden canary and the prompt canary's auto-rollback, as synthesized: the schedule and its input,
the canary function's and the rollback function's exact permissions, the rule that joins the canary
alarms to the rollback."""

import json
from pathlib import Path

from liftoff.foundation.canary import canary_payload
from liftoff.foundation.config import schedule_seconds

USE_CASE = "fixture-triage"


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


def test_lambdas_own_async_retries_are_off_for_the_asynchronously_invoked_functions(synthesized, template):
    # Given the schedule and the alarm rule invoke the canary and the rollback asynchronously
    canary_name, _ = _function(template, "service.handlers.canary.lambda_handler")
    rollback_name, _ = _function(template, "service.handlers.canary_rollback.lambda_handler")
    configs = template.find_resources("AWS::Lambda::EventInvokeConfig")
    # Then each has an EventInvokeConfig with no retry (a retried run bills its cases again), and only they do
    by_function = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"] for c in configs.values()}
    assert set(by_function) == {canary_name, rollback_name}
    assert all(p["MaximumRetryAttempts"] == 0 and p["Qualifier"] == "$LATEST" for p in by_function.values())
    # and the cdk-nag acknowledgement says how each function is invoked
    stage_name, outdir, _ = synthesized
    report = json.loads((Path(outdir) / "validation-report.json").read_text())
    reasons = {
        construct["constructPath"].split("/")[1] + "/" + construct["constructPath"].split("/")[2]: finding["reason"]
        for plugin in report["pluginReports"]
        for finding in plugin["suppressedViolations"]
        if finding["ruleName"] == "Serverless-LambdaDLQ"
        for construct in finding["violatingConstructs"]
        if construct["constructPath"].startswith(f"Liftoff-{USE_CASE}-{stage_name}/")
    }
    assert (
        "asynchronously" in reasons["GoldenCanary/Rollback"] and "MaximumRetryAttempts 0" in reasons["Canary/Function"]
    )
    assert "synchronously only" in reasons["Invoke/Function"]


def test_the_worst_case_run_fits_the_canary_functions_timeout(template, stage):
    # Given the use case's model budget, repairs and golden cases
    from liftoff.foundation.canary import CANARY_HEADROOM_S, canary_budget
    from liftoff.foundation.usecases import load_use_case

    payload = canary_payload(USE_CASE)
    budget = canary_budget(load_use_case(USE_CASE), len(payload["golden_canary"]["cases"]))
    _, function = _function(template, "service.handlers.canary.lambda_handler")
    # Then every case on both versions, at the configured concurrency, fits in the function's timeout
    assert budget.rounds * budget.case_s + CANARY_HEADROOM_S == budget.worst_run_s <= function["Properties"]["Timeout"]
    assert payload["golden_canary"]["budget"] == {
        "case_s": budget.case_s,
        "concurrency": budget.concurrency,
        "timeout_s": function["Properties"]["Timeout"],
    }


def _alarm(template, stage, name: str) -> dict:
    (alarm,) = [
        a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == f"liftoff-{USE_CASE}-{stage.name}-{name}"
    ]
    return alarm


def test_a_dead_canary_raises_alarms(template, stage):
    # Then no accuracy for two runs is breaching (a run that timed out, was denied, or answered nothing)
    assert _alarm(template, stage, "CanaryAccuracy")["TreatMissingData"] == "breaching"
    # while a prompt canary's accuracy is missing whenever no prompt canary runs: nothing to end then
    assert _alarm(template, stage, "CanaryVersionAccuracy")["TreatMissingData"] == "notBreaching"
    # the canary function's and the rollback function's errors (timeouts included) alarm on the first one
    canary_name, _ = _function(template, "service.handlers.canary.lambda_handler")
    rollback_name, _ = _function(template, "service.handlers.canary_rollback.lambda_handler")
    for name, function in (("CanaryErrors", canary_name), ("CanaryRollbackErrors", rollback_name)):
        alarm = _alarm(template, stage, name)
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    # the schedule's own group, whose Scheduler metrics count its failed invocations
    (schedule,) = template.find_resources("AWS::Scheduler::Schedule").values()
    ((group_name, group),) = template.find_resources("AWS::Scheduler::ScheduleGroup").items()
    assert schedule["Properties"]["GroupName"] == group["Properties"]["Name"] == f"liftoff-{USE_CASE}-{stage.name}"
    assert group_name in schedule.get("DependsOn", [])  # the group exists before the schedule is put in it
    failures = _alarm(template, stage, "CanaryScheduleFailures")
    watched = {
        m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]["Dimensions"]
        for m in failures["Metrics"]
        if "MetricStat" in m
    }
    assert set(watched) == {"TargetErrorCount", "TargetErrorThrottledCount", "InvocationDroppedCount"}
    assert all(d == [{"Name": "ScheduleGroup", "Value": group["Properties"]["Name"]}] for d in watched.values())
    assert all(
        m["MetricStat"]["Metric"]["Namespace"] == "AWS/Scheduler" for m in failures["Metrics"] if "MetricStat" in m
    )
