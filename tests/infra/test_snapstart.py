"""capacity.snapstart: SnapStart on the invoke function's published versions, and API Gateway calling
one (SnapStart never applies to $LATEST)."""

import pytest
from aws_cdk.assertions import Match

from stacks.lambda_factory import SNAPSTART_ALIAS
from tests.infra.test_checks import invoke_function, synth_variant


@pytest.fixture(scope="module")
def snapstart_template(tmp_path_factory):
    return synth_variant(tmp_path_factory.mktemp("snapstart"), "SnapStart", "prod", "capacity", snapstart=True)


def _logical_id(template, kind: str, props: dict) -> str:
    (found,) = template.find_resources(kind, {"Properties": props})
    return found


def test_snapstart_on_publishes_a_version_with_snapstart_and_an_alias(snapstart_template):
    # Given capacity.snapstart: true / Then the invoke function snapshots its published versions
    function = invoke_function(snapstart_template)
    assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # and only it: the canary, rollback, feedback and prompt-sync functions start as before
    others = snapstart_template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"SnapStart": Match.any_value()}}
    )
    assert len(others) == 1
    # a version of the invoke function and the alias that follows it
    function_id = _logical_id(
        snapstart_template, "AWS::Lambda::Function", {"Handler": "service.handlers.invoke.lambda_handler"}
    )
    version_id = _logical_id(snapstart_template, "AWS::Lambda::Version", {"FunctionName": {"Ref": function_id}})
    snapstart_template.has_resource_properties(
        "AWS::Lambda::Alias",
        {
            "Name": SNAPSTART_ALIAS,
            "FunctionName": {"Ref": function_id},
            "FunctionVersion": Match.object_like({"Fn::GetAtt": [version_id, "Version"]}),
        },
    )


def test_api_gateway_calls_the_alias_not_latest(snapstart_template):
    alias_id = _logical_id(snapstart_template, "AWS::Lambda::Alias", {"Name": SNAPSTART_ALIAS})
    # the integration of POST /v1/invoke names the alias, and API Gateway may invoke the alias
    methods = snapstart_template.find_resources("AWS::ApiGateway::Method", {"Properties": {"HttpMethod": "POST"}})
    uris = [str(m["Properties"]["Integration"]["Uri"]) for m in methods.values()]
    assert sum(alias_id in uri for uri in uris) == 1, uris  # invoke's route; feedback's keeps its function
    permissions = snapstart_template.find_resources(
        "AWS::Lambda::Permission", {"Properties": {"Principal": "apigateway.amazonaws.com"}}
    )
    invoke_permissions = [p for p in permissions.values() if alias_id in str(p["Properties"]["FunctionName"])]
    assert invoke_permissions, "API Gateway needs lambda:InvokeFunction on the alias"


def test_snapstart_off_is_unchanged(template):
    # The default (capacity.snapstart: false): no SnapStart, no version, no alias; API Gateway calls $LATEST
    assert "SnapStart" not in invoke_function(template)["Properties"]
    template.resource_count_is("AWS::Lambda::Alias", 0)
