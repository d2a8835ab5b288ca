"""Every use case of the fixture project (a triage, a summary and a retrieval one): its stack has its own
tables, function, role, guardrail, budget and alarms, wired to its own config, and nothing is shared between
use cases. The template's behaviour; the checkout's own use cases are held to their contract by tests/contract/."""

import json

import pytest

from liftoff.cost_project import alarm_count
from liftoff.foundation.usecases import load_use_case, use_case_names
from stacks.bedrock_access import invoke_resource_arns

from .test_usecase_stack import model_grant, statements_of

NAMES = use_case_names()


@pytest.mark.parametrize("name", NAMES)
def test_each_use_case_is_its_own_stack_wired_to_its_own_config(synthesized, name):
    stage, _, templates = synthesized
    template = templates[name]
    config = load_use_case(name).config
    resources = template.to_json()["Resources"]
    kinds = [r["Type"] for r in resources.values()]
    assert kinds.count("AWS::DynamoDB::GlobalTable") == 4  # prompts, spend counter, idempotency records, captures
    assert kinds.count("AWS::Bedrock::Guardrail") == (1 if config.guardrail.enabled else 0)
    assert kinds.count("AWS::Budgets::Budget") == 1
    assert kinds.count("AWS::CloudWatch::Alarm") == alarm_count(config)  # what cost project prices
    bedrock = {s.get("Sid"): s for s in statements_of(template, "InvokeFunction")}["InvokeConfiguredModels"]
    expected = invoke_resource_arns(config.models.allowed, partition="aws", region="us-east-1", account="111111111111")
    plain, profiles = model_grant(template, bedrock["Resource"])
    assert plain == expected and len(profiles) == len(config.models.allowed)
    (budget,) = [r for r in resources.values() if r["Type"] == "AWS::Budgets::Budget"]
    # the gateway caps a variable at the body's limit, not below it: smoke's too-large body (and any
    # body over the limit made of variables that fit it) reaches the handler's 413
    (model,) = [
        r["Properties"]["Schema"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::Model" and r["Properties"]["Schema"].get("title") == "InvokeRequest"
    ]
    assert model["properties"]["variables"]["additionalProperties"]["maxLength"] == config.api.max_body_bytes
    scope = budget["Properties"]["Budget"]["FilterExpression"]["And"]
    assert [(e["Tags"]["Key"], e["Tags"]["Values"]) for e in scope] == [("use-case", [name]), ("stage", [stage])]
    assert budget["Properties"]["Budget"]["BudgetLimit"]["Amount"] == config.budget.monthly_usd
    thresholds = {
        r["Properties"]["AlarmName"].rsplit("-", 1)[1]: r["Properties"]["Threshold"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert thresholds["LatencyP95"] == config.exit_criteria.p95_latency_ms
    assert thresholds["CostPerRequest"] == config.exit_criteria.max_cost_per_request_usd
    (invoke,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "service.handlers.invoke.lambda_handler"
    ]
    assert invoke["Properties"].get("ReservedConcurrentExecutions") == config.capacity.reserved_concurrency
    assert invoke["Properties"]["Timeout"] == config.lambda_timeout_seconds <= 29
    assert invoke["Properties"]["Environment"]["Variables"].get("LIFTOFF_FALLBACK_MODEL_ID") == config.models.fallback
    for resource in resources.values():
        tags = resource.get("Properties", {}).get("Tags")
        if isinstance(tags, list):
            assert {t["Key"]: t["Value"] for t in tags}["use-case"] == name


def test_use_cases_share_nothing(synthesized):
    _, _, templates = synthesized
    if len(templates) < 2:
        pytest.skip("one use case only")
    owner: dict[str, str] = {}
    for use_case, template in templates.items():
        text = json.dumps(template.to_json())
        assert "Fn::ImportValue" not in text, f"{use_case} imports from another stack"
        for resource in template.to_json()["Resources"].values():
            props = resource.get("Properties", {})
            account_wide = {  # names that must be unique in the account and Region
                "AWS::CloudWatch::Alarm": "AlarmName",
                "AWS::CloudWatch::Dashboard": "DashboardName",
                "AWS::Bedrock::Guardrail": "Name",
                "AWS::WAFv2::WebACL": "Name",
                "AWS::ApiGateway::RestApi": "Name",
                "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
            }
            if resource["Type"] in account_wide:
                value = props.get(account_wide[resource["Type"]])
                if isinstance(value, str):
                    assert owner.setdefault(value, use_case) == use_case, f"{value}: {use_case} and {owner[value]}"
    # each invoke role reads only its own tables: a Ref/GetAtt in a policy names a resource of its own template
    for template in templates.values():
        own = set(template.to_json()["Resources"])
        for statement in statements_of(template, "InvokeFunction"):
            for resource in (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            ):
                if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                    assert resource["Fn::GetAtt"][0] in own
