"""Dashboard, alarms, alarm topic and budget: every number comes from the use case's config."""

import json
import re

import pytest

from liftoff.foundation.config import schedule_seconds
from liftoff.foundation.names import digest
from liftoff.foundation.usecases import load_use_case
from stacks.constructs.monitoring import ERROR_CLASSES

USE_CASE = "fixture-triage"
CONFIG = load_use_case(USE_CASE).config


def flatten(value) -> str:
    """A dashboard body is an Fn::Join of strings and tokens; keep the strings, mark the tokens."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(flatten(part) for part in value["Fn::Join"][1])
    return "TOKEN"


def watched(alarm: dict) -> dict:
    """What an alarm watches, whether CDK wrote it flat (MetricName...) or as a one-metric `Metrics` list."""
    if "Metrics" in alarm:
        queries = alarm["Metrics"]
        if len(queries) > 1:  # metric math: the expression and the metrics it uses
            (expression,) = [q for q in queries if "Expression" in q]
            stats = [q["MetricStat"] for q in queries if "MetricStat" in q]
            (period,) = {m["Period"] for m in stats}
            (namespace,) = {m["Metric"]["Namespace"] for m in stats}
            dimensions = [m["Metric"]["Dimensions"] for m in stats]
            assert all(d == dimensions[0] for d in dimensions)
            used = {q["Id"]: q["MetricStat"]["Metric"]["MetricName"] for q in queries if "MetricStat" in q}
            return {
                "Expression": expression["Expression"],
                "Uses": used,
                "Period": period,
                "Namespace": namespace,
                "Dimensions": dimensions[0],
            }
        (query,) = queries
        stat = query["MetricStat"]
        return {**stat["Metric"], "Stat": stat["Stat"], "Period": stat["Period"]}
    stat = alarm.get("ExtendedStatistic") or alarm["Statistic"]
    keys = ("MetricName", "Namespace", "Dimensions", "Period")
    return {**{k: alarm[k] for k in keys if k in alarm}, "Stat": stat}


def alarms_by_suffix(template, stage) -> dict[str, dict]:
    prefix = f"liftoff-{USE_CASE}-{stage.name}-"
    return {
        a["Properties"]["AlarmName"].removeprefix(prefix): {**a["Properties"], "watched": watched(a["Properties"])}
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    }


def test_alarm_thresholds_equal_the_config(template, stage):
    alarms = alarms_by_suffix(template, stage)
    criteria = CONFIG.exit_criteria

    def what(name):
        w = alarms[name]["watched"]
        return w["Namespace"], w["MetricName"], w["Stat"]

    assert alarms["LatencyP95"]["Threshold"] == criteria.p95_latency_ms
    assert what("LatencyP95") == ("Liftoff", "Latency", "p95")
    assert alarms["CostPerRequest"]["Threshold"] == criteria.max_cost_per_request_usd
    assert what("CostPerRequest") == ("Liftoff", "CostUSD", "Average")
    assert alarms["DailySpend"]["Threshold"] == pytest.approx(0.8 * CONFIG.budget.daily_cap_usd)
    assert what("DailySpend") == ("Liftoff", "SpendTodayUSD", "Maximum")
    assert alarms["Api5xxRate"]["Threshold"] == stage.max_5xx_rate
    assert what("Api5xxRate") == ("AWS/ApiGateway", "5XXError", "Average")
    assert alarms["ModelThrottling"]["Threshold"] == stage.max_model_throttles_per_period
    assert what("ModelThrottling") == ("Liftoff", "Throttled", "Sum")
    assert what("LambdaThrottles") == ("AWS/Lambda", "Throttles", "Sum")
    assert what("SpendCapHit") == ("Liftoff", "SpendCapHit", "Sum")
    # InvalidOutputs / Requests against the exit criterion (a ratio, as max_invalid_output_rate is)
    assert alarms["InvalidOutputRate"]["Threshold"] == criteria.max_invalid_output_rate
    invalid = alarms["InvalidOutputRate"]["watched"]
    assert (invalid["Expression"], invalid["Uses"]) == (
        "FILL(invalid, 0) / requests",
        {"invalid": "InvalidOutputs", "requests": "Requests"},
    )
    # bad ratings / all ratings over a day, against 1 - min_accuracy, judged only with enough ratings
    assert alarms["FeedbackBadRate"]["Threshold"] == pytest.approx(1 - criteria.min_accuracy)
    bad = alarms["FeedbackBadRate"]["watched"]
    enough = CONFIG.capture.alarm_min_ratings
    assert bad["Expression"] == (
        f"IF((FILL(good, 0) + FILL(bad, 0)) >= {enough}, FILL(bad, 0) / (FILL(good, 0) + FILL(bad, 0)), 0)"
    )
    assert bad["Uses"] == {"good": "FeedbackGood", "bad": "FeedbackBad"}
    assert bad["Period"] == 86_400
    # the golden canary: stable accuracy two runs in a row, the canary version's at once, per schedule
    golden_s = schedule_seconds(stage.canary_schedule)
    for name, evaluation in (("CanaryAccuracy", (2, 2)), ("CanaryVersionAccuracy", (1, 1))):
        assert alarms[name]["Threshold"] == criteria.min_accuracy
        assert alarms[name]["ComparisonOperator"] == "LessThanThreshold"
        assert alarms[name]["watched"]["Period"] == golden_s
        assert (alarms[name]["EvaluationPeriods"], alarms[name]["DatapointsToAlarm"]) == evaluation
    assert alarms["CanaryVersionLatencyP95"]["Threshold"] == criteria.p95_latency_ms
    assert what("CanaryVersionLatencyP95") == ("Liftoff", "CanaryVersionLatency", "p95")
    assert alarms["CanaryVersionErrorRate"]["Threshold"] == criteria.max_error_rate
    assert set(alarms) == {
        "CanaryAccuracy",
        "CanaryErrors",
        "CanaryRollbackErrors",
        "CanaryScheduleFailures",
        "CanaryVersionAccuracy",
        "CanaryVersionErrorRate",
        "CanaryVersionLatencyP95",
        "FeedbackBadRate",
        "InvalidOutputRate",
        "LatencyP95",
        "CostPerRequest",
        "DailySpend",
        "SpendCapHit",
        "Api5xxRate",
        "ModelThrottling",
        "LambdaThrottles",
    }


def test_alarms_watch_low_cardinality_dimensions_and_notify_the_topic(template, stage):
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    for name, alarm in alarms_by_suffix(template, stage).items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert alarm["OKActions"] == [{"Ref": topic_id}], name
        # a golden canary without an accuracy is dead, not healthy; everything else exists only when it happens
        assert alarm["TreatMissingData"] == ("breaching" if name == "CanaryAccuracy" else "notBreaching"), name
        watched_metric = alarm["watched"]
        expected = {"FeedbackBadRate": 86_400, "CanaryAccuracy": schedule_seconds(stage.canary_schedule)}
        for per_run in ("CanaryVersionAccuracy", "CanaryErrors", "CanaryScheduleFailures"):
            expected[per_run] = expected["CanaryAccuracy"]  # one point per golden run
        assert watched_metric["Period"] == expected.get(name, stage.alarm_period_minutes * 60), name
        if watched_metric["Namespace"] == "Liftoff":
            dimensions = {d["Name"]: d["Value"] for d in watched_metric["Dimensions"]}
            assert dimensions == {"UseCase": USE_CASE, "Stage": stage.name}, name
        immediate = ("DailySpend", "SpendCapHit", "FeedbackBadRate", "CanaryAccuracy", "CanaryVersionAccuracy")
        if name not in immediate and not name.startswith(("CanaryErrors", "CanaryRollback", "CanarySchedule")):
            assert alarm["EvaluationPeriods"] == stage.alarm_evaluation_periods
            assert alarm["DatapointsToAlarm"] == stage.alarm_datapoints


def test_dashboard_shows_cost_spend_errors_latency_tokens_and_the_exit_criteria(template):
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(flatten(dashboard["Properties"]["DashboardBody"]).replace('"TOKEN"', '"x"'))
    widgets = {w["properties"].get("title"): w["properties"] for w in body["widgets"]}

    def metric_names(title):
        return {m[1] for m in widgets[title]["metrics"] if len(m) > 1 and isinstance(m[1], str)}

    def annotations(title):
        return {a["value"] for a in widgets[title].get("annotations", {}).get("horizontal", [])}

    criteria = CONFIG.exit_criteria
    assert "CostUSD" in metric_names("Cost per request (USD)")
    assert annotations("Cost per request (USD)") == {criteria.max_cost_per_request_usd}
    assert metric_names("Spend today (USD, UTC day, from the spend counter)") == {"SpendTodayUSD"}
    assert CONFIG.budget.daily_cap_usd in annotations("Spend today (USD, UTC day, from the spend counter)")
    running = json.dumps(widgets["Spend, last 30 days (USD, running sum)"]["metrics"])
    assert "RUNNING_SUM" in running
    assert annotations("Spend, last 30 days (USD, running sum)") == {CONFIG.budget.monthly_usd}
    assert annotations("Latency end to end (ms)") == {criteria.p95_latency_ms}
    latency_stats = {m[-1]["stat"] for m in widgets["Latency end to end (ms)"]["metrics"]}
    assert latency_stats == {"p50", "p95", "p99"}
    assert metric_names("Tokens") == {"InputTokens", "OutputTokens"}
    error_widget = json.dumps(widgets["Error rate by class (%)"]["metrics"])
    for error_class in ERROR_CLASSES:
        assert f'"{error_class}"' in error_widget
    assert {"Throttled", "4XXError", "Throttles"} <= metric_names("Throttles (count)")
    assert "Duration" in metric_names("Lambda duration (ms)")
    assert metric_names("Lambda concurrency") == {"ConcurrentExecutions"}


def test_alarm_topic_is_encrypted_tls_only_and_open_to_alarms_and_budgets(template):
    (topic,) = template.find_resources("AWS::SNS::Topic").values()
    (key_id,) = template.find_resources("AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (publish,) = [s for s in statements if s.get("Sid") == "AlarmsAndBudgetsPublish"]
    assert sorted(publish["Principal"]["Service"]) == ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]
    assert publish["Action"] == "sns:Publish"
    (key,) = template.find_resources("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    key_statements = key["Properties"]["KeyPolicy"]["Statement"]
    by_service = {s["Principal"]["Service"]: s for s in key_statements if "Service" in s.get("Principal", {})}
    assert set(by_service) == {"budgets.amazonaws.com", "cloudwatch.amazonaws.com"}
    assert "aws:SourceAccount" in by_service["cloudwatch.amazonaws.com"]["Condition"]["StringEquals"]
    assert "Condition" not in by_service["budgets.amazonaws.com"]  # not relying on source keys in its KMS requests
    assert "aws:SourceAccount" in publish["Condition"]["StringEquals"]  # the topic decides who publishes


def budget_scope(use_case: str, stage: str) -> dict:
    """The budget's FilterExpression: the use case's tag AND the stage's tag."""
    return {
        "And": [
            {"Tags": {"Key": "use-case", "Values": [use_case], "MatchOptions": ["EQUALS"]}},
            {"Tags": {"Key": "stage", "Values": [stage], "MatchOptions": ["EQUALS"]}},
        ]
    }


def test_monthly_budget_counts_only_its_use_case_in_its_stage_and_notifies(template, stage):
    (budget,) = template.find_resources("AWS::Budgets::Budget").values()
    data = budget["Properties"]["Budget"]
    assert data["BudgetLimit"] == {"Amount": CONFIG.budget.monthly_usd, "Unit": "USD"}
    assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
    # a sandbox budget must not count prod's spend in the same account: use case AND stage
    assert data["FilterExpression"] == budget_scope(USE_CASE, stage.name)
    # FilterExpression goes with Metrics; the older CostFilters/CostTypes pair must not be mixed in
    assert data["Metrics"] == ["UnblendedCost"]
    assert "CostFilters" not in data and "CostTypes" not in data
    # the stage tag the filter names is the one every resource carries
    (function,) = [
        f
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "service.handlers.invoke.lambda_handler"
    ]
    tags = {t["Key"]: t["Value"] for t in function["Properties"]["Tags"]}
    assert (tags["use-case"], tags["stage"]) == (USE_CASE, stage.name)
    # unique per account: the Region and a hash of the notifications are in the name
    prefix, region, suffix = data["BudgetName"]["Fn::Join"][1]
    assert (prefix, region) == (f"liftoff-{USE_CASE}-{stage.name}-", {"Ref": "AWS::Region"})
    assert re.fullmatch(r"-[0-9a-f]{8}", suffix)
    notifications = budget["Properties"]["NotificationsWithSubscribers"]
    seen = {(n["Notification"]["NotificationType"], n["Notification"]["Threshold"]) for n in notifications}
    assert seen == {("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)}
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    for notification in notifications:
        assert notification["Notification"]["ThresholdType"] == "PERCENTAGE"
        assert {"SubscriptionType": "SNS", "Address": {"Ref": topic_id}} in notification["Subscribers"]


def test_a_changed_alert_email_list_renames_the_budget_so_it_can_be_replaced():
    # NotificationsWithSubscribers changes only by replacement, and a budget's name is unique: the
    # replacement must carry a new name, or CloudFormation fails with "budget already exists"
    import aws_cdk as cdk

    from stacks.constructs.monthly_budget import budget_name

    def resolved(budget):
        stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
        return stack.resolve(budget_name("liftoff-x-sandbox", budget))

    base = CONFIG.budget
    assert resolved(base) == resolved(base.model_copy())
    changed = base.model_copy(update={"alert_emails": ["oncall@example.com"]})
    assert resolved(changed) != resolved(base)
    assert resolved(base.model_copy(update={"monthly_usd": 999})) == resolved(base)  # a limit updates in place
    assert {"Ref": "AWS::Region"} in resolved(base)["Fn::Join"][1]


def test_the_boundary_policy_name_is_unique_per_region_and_carries_its_descriptions_hash(template, stage):
    (policy,) = [
        p
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if "permissions boundary" in p["Properties"]["Description"]
    ]
    props = policy["Properties"]
    # the Description is immutable (an edit means replacement) and the name is fixed: the name carries
    # the description's hash, so an edited description is a new name and the replacement succeeds
    assert props["ManagedPolicyName"] == {
        "Fn::Join": [
            "",
            [
                f"liftoff-{USE_CASE}-{stage.name}-",
                {"Ref": "AWS::Region"},
                f"-boundary-{digest(props['Description'], 6)}",
            ],
        ]
    }


def test_an_edited_boundary_description_renames_the_policy(monkeypatch):
    from stacks.constructs import permissions_boundary

    before = permissions_boundary.policy_name("liftoff-x-sandbox")
    monkeypatch.setattr(permissions_boundary, "DESCRIPTION", permissions_boundary.DESCRIPTION + ", edited")
    assert permissions_boundary.policy_name("liftoff-x-sandbox") != before


def test_the_dashboard_name_carries_the_region_and_is_the_stacks_output(template, stage):
    # CloudWatch dashboards are global to the account: a second Region's deployment must not take
    # over the first one's dashboard
    ((dashboard_id, dashboard),) = template.find_resources("AWS::CloudWatch::Dashboard").items()
    name = dashboard["Properties"]["DashboardName"]
    assert name == {"Fn::Join": ["", [f"liftoff-{USE_CASE}-{stage.name}-", {"Ref": "AWS::Region"}]]}
    # dashboard names are at most 255 of A-Za-z0-9-_ (PutDashboard); a Region name is at most 14 of a-z0-9-
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,241}", name["Fn::Join"][1][0])
    # smoke finds the dashboard by this output
    assert template.to_json()["Outputs"]["DashboardName"]["Value"] == {"Ref": dashboard_id}
