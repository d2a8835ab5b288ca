"""No option can cut a role off from what it was granted: over every stage and config option, every
action a role's own policies allow is also allowed by its permissions boundary, and not denied by it.
(A role can use only what both allow, so a grant outside the boundary fails at run time.)"""

import dataclasses
import fnmatch

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from liftoff.foundation.config import get_stage
from liftoff.foundation.usecases import load_all_use_cases
from stacks.usecase_stack import UseCaseStack

KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# AWS managed policies attached by CDK constructs, with the actions they allow (IAM console, policy JSON)
MANAGED = {
    "service-role/AWSLambdaBasicExecutionRole": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
}


def variants(config):
    """The options that change which roles exist and what they are granted."""
    security = config.security
    yield "defaults", config
    yield (
        "table key + iam auth",
        config.model_copy(
            update={
                "security": security.model_copy(update={"table_kms_key_arn": KEY_ARN}),
                "api": config.api.model_copy(update={"auth": "iam"}),
            }
        ),
    )
    yield (
        "cognito, no guardrail, no fallback",
        config.model_copy(
            update={
                "api": config.api.model_copy(update={"auth": "cognito"}),
                "guardrail": config.guardrail.model_copy(update={"enabled": False}),
                "models": config.models.model_copy(update={"fallback": None}),
            }
        ),
    )


def as_list(value):
    return value if isinstance(value, list) else [value]


def covers(patterns, resource) -> bool:
    for pattern in as_list(patterns):
        if pattern == "*" or pattern == resource:
            return True
        if isinstance(pattern, str) and isinstance(resource, str) and fnmatch.fnmatchcase(resource, pattern):
            return True
    return False


def action_in(patterns, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in as_list(patterns))


def boundary_refusals(boundary: dict, action: str, resource) -> str | None:
    """Why the boundary would refuse `action` on `resource`, or None when it lets it through."""
    statements = as_list(boundary["Statement"])
    for s in statements:
        if s["Effect"] != "Deny" or not action_in(s["Action"], action):
            continue
        if "Resource" in s and covers(s["Resource"], resource):
            return f"denied by {s.get('Sid')}"
        if "NotResource" in s and not covers(s["NotResource"], resource):
            return f"denied by {s.get('Sid')} (not among its resources)"
    if not any(
        s["Effect"] == "Allow" and action_in(s["Action"], action) and covers(s["Resource"], resource)
        for s in statements
    ):
        return "not allowed by any boundary statement"
    return None


def identity_statements(resources: dict, role_id: str):
    role = resources[role_id]["Properties"]
    for policy in role.get("Policies", []):
        yield from as_list(policy["PolicyDocument"]["Statement"])
    for managed in role.get("ManagedPolicyArns", []):
        # CDK writes it as Fn::Join, or (its custom resource providers) as Fn::Sub
        text = (
            (managed["Fn::Join"][1][-1] if "Fn::Join" in managed else managed["Fn::Sub"])
            if isinstance(managed, dict)
            else managed
        )
        name = text.split(":policy/")[-1]
        assert name in MANAGED, f"{role_id}: managed policy {name} is not known to this test; add its actions"
        yield {"Effect": "Allow", "Action": MANAGED[name], "Resource": "*"}
    for policy in resources.values():
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in policy["Properties"]["Roles"]:
            yield from as_list(policy["Properties"]["PolicyDocument"]["Statement"])


@pytest.mark.parametrize("stage", ["sandbox", "prod"])
def test_every_granted_action_passes_the_boundary(tmp_path, stage):
    problems, roles_checked = [], 0
    for use_case in load_all_use_cases():
        for label, config in variants(use_case.config):
            app = cdk.App(outdir=str(tmp_path / f"{use_case.name}-{label.replace(' ', '')}"))
            stack = UseCaseStack(
                app,
                "S",
                use_case=dataclasses.replace(use_case, config=config),
                stage=get_stage(stage),
                env=cdk.Environment(account="111111111111", region="us-east-1"),
            )
            resources = Template.from_stack(stack).to_json()["Resources"]
            for role_id, role in resources.items():
                if role["Type"] != "AWS::IAM::Role" or "PermissionsBoundary" not in role["Properties"]:
                    continue
                boundary_id = role["Properties"]["PermissionsBoundary"]["Ref"]
                boundary = resources[boundary_id]["Properties"]["PolicyDocument"]
                roles_checked += 1
                for statement in identity_statements(resources, role_id):
                    if statement["Effect"] != "Allow":
                        continue
                    for action in as_list(statement["Action"]):
                        for resource in as_list(statement["Resource"]):
                            why = boundary_refusals(boundary, action, resource)
                            if why:
                                problems.append(f"{use_case.name} [{label}] {role_id}: {action} on {resource}: {why}")
    assert roles_checked >= 12
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_grant_outside_the_boundary():
    boundary = {
        "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": "*"},
            {"Effect": "Deny", "Action": ["bedrock:InvokeModel"], "NotResource": ["arn:model-a"]},
        ]
    }
    assert boundary_refusals(boundary, "dynamodb:GetItem", {"Fn::GetAtt": ["T", "Arn"]}) is None
    assert boundary_refusals(boundary, "kms:Decrypt", "arn:key") == "not allowed by any boundary statement"
    assert "NotResource" not in (boundary_refusals(boundary, "bedrock:InvokeModel", "arn:model-b") or "")
    assert boundary_refusals(boundary, "bedrock:InvokeModel", "arn:model-b").startswith("denied")
