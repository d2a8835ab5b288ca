import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from stacks.nag import acknowledge, add_nag_checks
from tests.checks import assert_cfn_lint_clean, assert_checkov_clean, assert_nag_clean, nag_problems


def synth_variant(tmp_path, name: str, stage: str, section: str, **fields):
    """fixture-triage with `section`'s `fields` changed, synthesized with cdk-nag on (fails on any
    unacknowledged finding); its template."""
    import dataclasses

    from aws_cdk.assertions import Template

    from liftoff.foundation.config import get_stage
    from liftoff.foundation.usecases import load_use_case
    from stacks.usecase_stack import UseCaseStack

    use_case = load_use_case("fixture-triage")
    changed = getattr(use_case.config, section).model_copy(update=fields)
    config = use_case.config.model_copy(update={section: changed})
    app = cdk.App(outdir=str(tmp_path / name))
    stack = UseCaseStack(
        app,
        name,
        use_case=dataclasses.replace(use_case, config=config),
        stage=get_stage(stage),
        env=cdk.Environment(account="111111111111", region="us-east-1"),
    )
    add_nag_checks(app)
    app.synth()
    return Template.from_stack(stack)


def invoke_function(template) -> dict:
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "service.handlers.invoke.lambda_handler"}}
    ).values()
    return function


def test_nag_runs_clean_and_every_acknowledgement_has_a_reason(synthesized):
    # synthesizing at all means zero unacknowledged findings (the plugin fails synth otherwise)
    _, outdir, _ = synthesized
    assert_nag_clean(outdir)


def _stack_with_wildcard_role(app: cdk.App) -> iam.Role:
    stack = cdk.Stack(app, "Probe")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    return role


def test_an_unacknowledged_finding_fails_synth_and_is_told_by_its_stack(tmp_path):
    # Given a stack with a wildcard grant beside one without
    app = cdk.App(outdir=str(tmp_path))
    _stack_with_wildcard_role(app)
    iam.Role(cdk.Stack(app, "Clean"), "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    add_nag_checks(app)
    # When it is synthesized / Then synth fails on the finding
    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5\[Resource::\*\]"):
        app.synth()
    # and the report (what the contract tests read per use case) puts it on its own stack only
    assert "AwsSolutions-IAM5[Resource::*] at Probe/Role/DefaultPolicy/Resource" in nag_problems(tmp_path, "Probe")
    assert not [p for p in nag_problems(tmp_path, "Clean") if " at " in p]


def test_acknowledge_silences_exactly_that_finding(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    role = _stack_with_wildcard_role(app)
    acknowledge(role, "IAM5[Resource::*]", "probe: a documented reason that is long enough")
    add_nag_checks(app)
    app.synth()


def test_acknowledge_refuses_an_empty_reason(tmp_path):
    with pytest.raises(ValueError, match="needs a real reason"):
        acknowledge(cdk.Stack(cdk.App(outdir=str(tmp_path)), "S"), "L1", "because")


def test_cfn_lint_is_clean(synthesized):
    _, outdir, _ = synthesized
    assert_cfn_lint_clean(outdir)


@pytest.mark.parametrize("mode", ["iam", "cognito"])
def test_each_auth_mode_synthesizes_nag_clean(tmp_path, mode):
    from aws_cdk.assertions import Match

    template = synth_variant(tmp_path, f"Auth-{mode}", "prod", "api", auth=mode)
    template.resource_count_is("AWS::ApiGateway::ApiKey", 0)
    template.resource_count_is("AWS::ApiGateway::UsagePlan", 0)
    if mode == "iam":
        template.has_resource_properties(
            "AWS::ApiGateway::Method", {"HttpMethod": "POST", "AuthorizationType": "AWS_IAM"}
        )
    else:
        template.has_resource_properties(
            "AWS::ApiGateway::Method",
            {"HttpMethod": "POST", "AuthorizationType": "COGNITO_USER_POOLS", "AuthorizerId": Match.any_value()},
        )
        template.has_resource_properties(
            "AWS::Cognito::UserPool",
            {"MfaConfiguration": "ON", "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}},
        )


def test_checkov_finds_nothing_without_a_recorded_reason(synthesized):
    _, outdir, _ = synthesized
    assert_checkov_clean(outdir)


def test_a_customer_managed_table_key_encrypts_every_table_and_is_granted(tmp_path):
    key_arn = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    template = synth_variant(tmp_path, "Cmk", "sandbox", "security", table_kms_key_arn=key_arn)
    tables = template.find_resources("AWS::DynamoDB::GlobalTable").values()
    assert [t["Properties"]["SSESpecification"]["SSEType"] for t in tables] == ["KMS"] * 4
    for table in tables:
        (replica,) = table["Properties"]["Replicas"]
        assert replica["SSESpecification"] == {"KMSMasterKeyId": key_arn}
    grants = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "UseTableKey"
    ]
    assert len(grants) == 5  # the invoke, golden canary, canary rollback, feedback and prompt sync functions
    assert all(g["Resource"] in (key_arn, [key_arn]) for g in grants)


@pytest.mark.parametrize("mode", ["active", "sdk", "off"])
def test_tracing_follows_the_config_and_stays_nag_clean(tmp_path, mode):
    template = synth_variant(tmp_path, f"Tracing-{mode}", "prod", "observability", tracing=mode)
    invoke = invoke_function(template)
    assert invoke["Properties"]["Environment"]["Variables"]["LIFTOFF_TRACING"] == mode
    expected = "PassThrough" if mode == "off" else "Active"
    assert invoke["Properties"].get("TracingConfig", {"Mode": "PassThrough"})["Mode"] == expected
    template.has_resource_properties("AWS::ApiGateway::Stage", {"TracingEnabled": mode != "off"})


def test_the_invoke_function_memory_comes_from_the_measured_peak(tmp_path):
    from liftoff.foundation.memory import HEADROOM, measured, memory_for

    peak = measured()["peak_rss_mb"]
    chosen = memory_for(peak)
    assert chosen >= peak * HEADROOM and chosen - 64 < peak * HEADROOM  # the smallest 64 MB step with headroom
    sizes = {
        override: invoke_function(
            synth_variant(tmp_path, f"Memory-{override}", "sandbox", "capacity", memory_mb=override)
        )["Properties"]["MemorySize"]
        for override in (None, 1024)
    }
    assert sizes == {None: chosen, 1024: 1024}


def test_with_capture_on_invoke_may_put_captures_and_nothing_more(tmp_path):
    template = synth_variant(tmp_path, "Capture", "prod", "capture", enabled=True)
    (policy,) = [
        p for name, p in template.find_resources("AWS::IAM::Policy").items() if name.startswith("InvokeFunctionRole")
    ]
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    capture = statements["CaptureRequests"]
    assert capture["Action"] == "dynamodb:PutItem"  # no read, no update: a capture is written once
    assert capture["Resource"]["Fn::GetAtt"][0].startswith("CaptureTable")
    assert invoke_function(template)["Properties"]["Environment"]["Variables"]["LIFTOFF_CAPTURE_ENABLED"] == "true"
    assert invoke_function(template)["Properties"]["Environment"]["Variables"]["LIFTOFF_CAPTURE_SAMPLE_RATE"] == "0.1"


def test_the_capture_table_expires_items_and_is_queried_by_rating(tmp_path):
    template = synth_variant(tmp_path, "CaptureTable", "prod", "capture", ttl_days=30)
    (table,) = [
        t
        for name, t in template.find_resources("AWS::DynamoDB::GlobalTable").items()
        if name.startswith("CaptureTable")
    ]
    props = table["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-rating"
    assert index["KeySchema"] == [
        {"AttributeName": "rating", "KeyType": "HASH"},
        {"AttributeName": "rated_at", "KeyType": "RANGE"},
    ]
    assert props["SSESpecification"]["SSEEnabled"] is True
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {"HttpMethod": "POST", "ApiKeyRequired": True, "RequestValidatorId": Match.any_value()},
    )


def test_a_golden_canary_turned_off_has_no_schedule_and_no_golden_alarms(tmp_path):
    from liftoff.foundation.config import GoldenCanaryConfig

    template = synth_variant(tmp_path, "CanaryOff", "prod", "monitoring", canary=GoldenCanaryConfig(schedule="off"))
    template.resource_count_is("AWS::Scheduler::Schedule", 0)
    names = {a["Properties"]["AlarmName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()}
    assert not any(name.endswith(("-CanaryAccuracy", "-CanaryVersionAccuracy")) for name in names)
    # a prompt canary's traffic alarms still end it
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert sorted(rule["Properties"]["EventPattern"]["detail"]["alarmName"]) == [
        "liftoff-fixture-triage-prod-CanaryVersionErrorRate",
        "liftoff-fixture-triage-prod-CanaryVersionLatencyP95",
    ]


def test_a_canary_schedule_more_often_than_hourly_is_refused():
    import pytest
    from pydantic import ValidationError

    from liftoff.foundation.config import GoldenCanaryConfig

    with pytest.raises(ValidationError, match="at most hourly"):
        GoldenCanaryConfig(schedule="rate(5 minutes)")
    with pytest.raises(ValidationError, match="is not `off` or"):
        GoldenCanaryConfig(schedule="every hour")
