import json

from aws_cdk.assertions import Match

from liftoff.cost_project import alarm_count
from liftoff.foundation.usecases import load_use_case
from stacks.bedrock_access import invoke_resource_arns
from stacks.constructs.model_guardrail import policy_properties, version_description

USE_CASE = "fixture-triage"


def test_resources_of_one_use_case(template):
    template.resource_count_is("AWS::DynamoDB::GlobalTable", 4)  # prompts, spend counter, idempotency, captures
    template.resource_count_is("AWS::SecretsManager::Secret", 1)  # the feedback key
    template.resource_count_is("AWS::ApiGateway::RestApi", 1)
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    template.resource_count_is("AWS::ApiGateway::UsagePlan", 1)
    template.resource_count_is("Custom::LiftoffPromptSync", 1)
    # invoke, golden canary, canary rollback, feedback, prompt sync, provider framework
    template.resource_count_is("AWS::Lambda::Function", 6)
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.resource_count_is("AWS::Budgets::Budget", 1)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.resource_count_is("AWS::CloudWatch::Alarm", alarm_count(load_use_case(USE_CASE).config))
    template.resource_count_is("AWS::Bedrock::Guardrail", 1)
    template.resource_count_is("AWS::Bedrock::GuardrailVersion", 1)


def test_invoke_function_runtime_and_config(template):
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "service.handlers.invoke.lambda_handler",
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
            "Layers": Match.absent(),  # every library is in the package, at the tested version
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "LIFTOFF_USE_CASE": USE_CASE,
                        "LIFTOFF_ALLOWED_MODEL_IDS": Match.any_value(),
                        "LIFTOFF_MODEL_PRICES": Match.string_like_regexp('"us.amazon.nova-micro-v1:0":'),
                        "LIFTOFF_SPEND_TABLE": Match.any_value(),
                        "LIFTOFF_DAILY_CAP_USD": "5.0",
                        "LIFTOFF_LOG_PROMPTS": "false",
                        "LIFTOFF_REDACT_PATTERNS": "{}",
                    }
                )
            },
        },
    )


def render(value):
    """Resolve the Fn::Join / Ref AWS::Partition that CDK emits into the plain ARN string."""
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(render(p) for p in parts)
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    return value


def model_grant(template, resources: list) -> tuple[list[str], list[dict]]:
    """The InvokeConfiguredModels resources split into plain ARNs (sorted) and the application inference
    profiles' ARN references; the references must be every profile of the template."""
    profiles = sorted(template.find_resources("AWS::Bedrock::ApplicationInferenceProfile"))
    plain = sorted(render(r) for r in resources if not (isinstance(r, dict) and "Fn::GetAtt" in r))
    refs = [r for r in resources if isinstance(r, dict) and "Fn::GetAtt" in r]
    assert sorted(r["Fn::GetAtt"][0] for r in refs) == profiles
    assert {r["Fn::GetAtt"][1] for r in refs} == {"InferenceProfileArn"}
    return plain, refs


def statements_of(template, role_fragment: str) -> list[dict]:
    found = []
    for logical_id, policy in template.find_resources("AWS::IAM::Policy").items():
        if role_fragment in logical_id:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def test_invoke_role_can_call_only_configured_models_read_its_table_and_add_spend(template):
    statements = {s.get("Sid"): s for s in statements_of(template, "InvokeFunction")}
    config = load_use_case(USE_CASE).config
    bedrock = statements["InvokeConfiguredModels"]
    assert bedrock["Action"] == "bedrock:InvokeModel"
    expected = invoke_resource_arns(config.models.allowed, partition="aws", region="us-east-1", account="111111111111")
    plain, profiles = model_grant(template, bedrock["Resource"])
    assert plain == expected
    assert len(profiles) == len(config.models.allowed)
    assert statements["ReadPromptRegistry"]["Action"] == ["dynamodb:GetItem", "dynamodb:Query"]
    assert statements["ReadAndAddSpend"]["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert statements["ReadAndAddSpend"]["Resource"]["Fn::GetAtt"][0].startswith("SpendTable")
    idempotency = statements["KeepIdempotencyRecords"]
    assert idempotency["Action"] == [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ]
    assert idempotency["Resource"]["Fn::GetAtt"][0].startswith("IdempotencyTable")
    assert statements["ReadPromptRegistry"]["Resource"]["Fn::GetAtt"][0].startswith("PromptsTable")
    guardrail = statements["ApplyOwnGuardrail"]
    assert guardrail["Action"] == "bedrock:ApplyGuardrail"
    assert guardrail["Resource"]["Fn::GetAtt"][0].startswith("Guardrail")
    assert guardrail["Resource"]["Fn::GetAtt"][1] == "GuardrailArn"
    assert statements["WriteOwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    # nothing else but X-Ray, whose actions have no resource-level permissions
    others = [
        s
        for sid, s in statements.items()
        if sid
        not in {
            "InvokeConfiguredModels",
            "ReadPromptRegistry",
            "ReadAndAddSpend",
            "KeepIdempotencyRecords",
            "ApplyOwnGuardrail",
            "WriteOwnLogs",
            "ReadFeedbackKey",
        }
    ]
    key = statements["ReadFeedbackKey"]
    assert (key["Action"], key["Resource"]["Ref"][:11]) == ("secretsmanager:GetSecretValue", "FeedbackKey")
    # capture is off in the shipped config: invoke may not write the capture table at all
    assert "CaptureRequests" not in statements
    assert others == [
        {"Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Effect": "Allow", "Resource": "*"}
    ]


def test_no_wildcard_on_any_bedrock_statement(template):
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("bedrock:") for a in actions):
                assert "*" not in str(statement["Resource"])
                assert all("*" not in a for a in actions)


def test_tables_follow_stage(template, stage):
    prod = stage.name == "prod"
    tables = template.find_resources("AWS::DynamoDB::GlobalTable")
    assert len(tables) == 4
    for table in tables.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
        (replica,) = props["Replicas"]
        assert replica["DeletionProtectionEnabled"] is prod
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": prod}
        assert table["DeletionPolicy"] == ("Retain" if prod else "Delete")


def test_spend_table_expires_old_days(template):
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )


def test_every_log_group_has_retention_from_stage(template, stage):
    days = 365 if stage.name == "prod" else 14
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) >= 4
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {days}


def test_invoke_route_requires_key_and_validates_body(template):
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "ApiKeyRequired": True,
            "RequestValidatorId": Match.any_value(),
            "RequestModels": {"application/json": Match.any_value()},
            "Integration": Match.object_like({"Type": "AWS_PROXY"}),
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Model",
        {"Schema": Match.object_like({"required": ["prompt_id"], "additionalProperties": False})},
    )
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Throttle": {"RateLimit": 10, "BurstLimit": 20}, "Quota": {"Limit": 10000, "Period": "DAY"}},
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {"TracingEnabled": True, "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()})},
    )
    template.resource_count_is("AWS::ApiGateway::GatewayResponse", 3)


def test_a_bad_body_response_names_the_route_and_the_validators_words_and_stays_json(template):
    import json

    (bad_body,) = [
        r["Properties"]
        for r in template.find_resources("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "BAD_REQUEST_BODY"
    ]
    body = bad_body["ResponseTemplates"]["application/json"]
    for variable in ("$context.httpMethod", "$context.resourcePath", "$context.error.validationErrorString"):
        assert variable in body
    # API Gateway substitutes the variables (no VTL): with sample values the body is the function's error shape
    sample = (
        body.replace("$context.httpMethod", "POST")
        .replace("$context.resourcePath", "/v1/invoke")
        .replace("$context.error.validationErrorString", "[Invalid request body]")
        .replace("$context.requestId", "r-1")
    )
    error = json.loads(sample)["error"]
    assert error["code"] == "BadRequestBody"
    assert error["message"].startswith("POST /v1/invoke: the body does not match")
    assert "feedback" not in body  # one text described both routes


def test_prompt_sync_carries_the_repo_prompts(template):
    resources = template.find_resources("Custom::LiftoffPromptSync")
    (props,) = [r["Properties"] for r in resources.values()]
    assert '"prompt_id":"triage"' in props["Prompts"]
    assert props["UseCase"] == USE_CASE


def test_every_taggable_resource_is_tagged(template, stage):
    tagged = 0
    for resource in template.to_json()["Resources"].values():
        tags = resource.get("Properties", {}).get("Tags")
        if isinstance(tags, list):
            keys = {t["Key"]: t["Value"] for t in tags}
            assert keys["project"] == "liftoff"
            assert keys["use-case"] == USE_CASE
            assert keys["stage"] == stage.name
            assert keys["cost-center"] == "support-platform"
            tagged += 1
    assert tagged >= 5


def test_guardrail_is_the_configured_policy_and_the_function_uses_its_version(template):
    config = load_use_case(USE_CASE).config.guardrail
    ((guardrail_id, guardrail),) = template.find_resources("AWS::Bedrock::Guardrail").items()
    props = guardrail["Properties"]
    expected = policy_properties(config)
    assert props["ContentPolicyConfig"]["FiltersConfig"] == [
        {"InputStrength": f["inputStrength"], "OutputStrength": f["outputStrength"], "Type": f["type"]}
        for f in expected["contentPolicyConfig"]["filtersConfig"]
    ]
    assert {
        e["Type"]: e["Action"] for e in props["SensitiveInformationPolicyConfig"]["PiiEntitiesConfig"]
    } == config.pii
    assert [t["Name"] for t in props["TopicPolicyConfig"]["TopicsConfig"]] == [t.name for t in config.denied_topics]
    assert props["BlockedInputMessaging"] == config.blocked_input_message
    ((version_id, version),) = template.find_resources("AWS::Bedrock::GuardrailVersion").items()
    assert version["Properties"]["GuardrailIdentifier"] == {"Fn::GetAtt": [guardrail_id, "GuardrailId"]}
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "service.handlers.invoke.lambda_handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "LIFTOFF_GUARDRAIL_ID": {"Fn::GetAtt": [guardrail_id, "GuardrailId"]},
                        "LIFTOFF_GUARDRAIL_VERSION": {"Fn::GetAtt": [version_id, "Version"]},
                    }
                )
            },
        },
    )


def test_the_stack_outputs_the_guardrail_the_eval_attaches_on_the_bedrock_target(template):
    ((guardrail_id, _),) = template.find_resources("AWS::Bedrock::Guardrail").items()
    ((version_id, _),) = template.find_resources("AWS::Bedrock::GuardrailVersion").items()
    outputs = template.find_outputs("*")
    assert outputs["GuardrailId"]["Value"] == {"Fn::GetAtt": [guardrail_id, "GuardrailId"]}
    assert outputs["GuardrailVersion"]["Value"] == {"Fn::GetAtt": [version_id, "Version"]}


def test_a_policy_change_publishes_a_new_guardrail_version():
    config = load_use_case(USE_CASE).config.guardrail
    changed = config.model_copy(update={"blocked_words": [*config.blocked_words, "EXTRA"]})
    assert version_description(changed) != version_description(config)
    reworded = config.model_copy(update={"blocked_input_message": "Something else."})
    assert version_description(reworded) != version_description(config)
    assert version_description(config.model_copy()) == version_description(config)


def test_waf_guards_the_prod_stage_only(template, stage):
    acls = template.find_resources("AWS::WAFv2::WebACL")
    if stage.name == "sandbox":
        assert acls == {}
        return
    ((acl_id, acl),) = acls.items()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"] == {"Allow": {}}
    rules = {r["Name"]: r for r in props["Rules"]}
    assert set(rules) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "RateLimitPerIp"}
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    # the API takes bodies up to api.max_body_bytes and enforces it itself: WAF's 8 KB rule only counts
    assert common["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    rate = rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]
    assert rate == {"Limit": load_use_case(USE_CASE).config.api.waf_rate_limit_per_5min, "AggregateKeyType": "IP"}
    ((_, association),) = template.find_resources("AWS::WAFv2::WebACLAssociation").items()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert "Stage" in json.dumps(association["Properties"]["ResourceArn"])


def test_every_role_of_the_use_case_has_the_permissions_boundary(template):
    ((policy_id, policy),) = template.find_resources("AWS::IAM::ManagedPolicy").items()
    roles = template.find_resources("AWS::IAM::Role")
    bounded = {k for k, r in roles.items() if r["Properties"].get("PermissionsBoundary") == {"Ref": policy_id}}
    account_wide = {k for k in roles if k.startswith("ApiCloudWatchRole")}
    assert len(account_wide) == 1
    assert bounded == set(roles) - account_wide
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["NoIamEscalation"]["Effect"] == "Deny"
    assert "iam:PassRole" in statements["NoIamEscalation"]["Action"]
    models = statements["NamedModelsOnly"]
    assert models["Effect"] == "Deny"
    assert models["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    config = load_use_case(USE_CASE).config
    expected = invoke_resource_arns(config.models.allowed, partition="aws", region="us-east-1", account="111111111111")
    plain, profiles = model_grant(template, models["NotResource"])
    assert plain == expected and len(profiles) == len(config.models.allowed)


def test_prompt_sync_may_publish_and_retire_in_its_table_only(template):
    statements = {s.get("Sid"): s for s in statements_of(template, "PromptSyncFunction")}
    publish = statements["PublishPrompts"]
    assert publish["Action"] == [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:DeleteItem",
    ]
    assert publish["Resource"]["Fn::GetAtt"][0].startswith("PromptsTable")
