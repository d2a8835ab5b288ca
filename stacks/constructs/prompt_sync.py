"""PromptSync: a custom resource that publishes prompts/<use_case>/*.yaml into the registry on deploy.

The prompts travel as a resource property, so the resource updates (and syncs) exactly when a
prompt file changed. Publishing is idempotent; `live` is set on a prompt's first version only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import CustomResource, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from liftoff.foundation.config import StageConfig
from service.models.prompt import PromptSpec
from stacks.lambda_factory import FunctionProps, log_retention, python_function
from stacks.nag import SERVERLESS, acknowledge
from stacks.table_factory import TABLE_KEY_ACTIONS


class PromptSync(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        use_case_name: str,
        stage: StageConfig,
        prompts: Sequence[PromptSpec],
        prompts_table: dynamodb.ITableV2,
    ):
        super().__init__(scope, construct_id)
        self.function = python_function(
            self,
            "Function",
            FunctionProps(
                handler="service.handlers.prompt_sync.lambda_handler",
                description=f"Liftoff {use_case_name} ({stage.name}): publish repo prompts on deploy",
                timeout_seconds=60,
                memory_mb=256,
                log_retention_days=stage.log_retention_days,
                destroy_on_delete=stage.destroy_on_delete,
            ),
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="PublishPrompts",
                # Scan and DeleteItem: retiring prompts whose files left the repo (deploy time only)
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:Query",
                    "dynamodb:PutItem",
                    "dynamodb:Scan",
                    "dynamodb:DeleteItem",
                ],
                resources=[prompts_table.table_arn],
            )
        )
        if prompts_table.encryption_key:  # customer-managed table key (security.table_kms_key_arn)
            self.function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="UseTableKey",
                    actions=list(TABLE_KEY_ACTIONS),
                    resources=[prompts_table.encryption_key.key_arn],
                )
            )
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            log_group=logs.LogGroup(
                self,
                "ProviderLogs",
                retention=log_retention(stage.log_retention_days),
                removal_policy=RemovalPolicy.DESTROY if stage.destroy_on_delete else RemovalPolicy.RETAIN,
            ),
        )
        framework = provider.node.find_child("framework-onEvent")
        framework_role = framework.role
        for rule, reason in (
            (
                "LambdaDefaultMemorySize",
                "The CDK Provider framework's function is created by CDK with its default memory; it relays one "
                "event per deployment and does no work of its own.",
            ),
            (
                "LambdaTracing",
                "The CDK Provider framework's function exposes no tracing setting; the sync function it invokes "
                "has active X-Ray tracing.",
            ),
            (
                "LambdaDLQ",
                "The CDK Provider framework's function is invoked synchronously by CloudFormation through its "
                "custom-resource protocol; failures go back to CloudFormation.",
            ),
        ):
            acknowledge(framework, rule, reason, pack=SERVERLESS)
        acknowledge(
            framework_role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "The CDK Provider framework's own function (deploy-time only) logs with the AWS-managed basic "
            "execution policy; it holds no data permissions.",
        )
        acknowledge(
            framework_role,
            f"IAM5[Resource::<{Stack.of(self).get_logical_id(self.function.node.default_child)}.Arn>:*]",
            "The Provider framework may invoke any version of the sync function it fronts (function ARN "
            "with a version suffix); it is scoped to that one function.",
        )
        payload = [p.model_dump(mode="json") for p in prompts]
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::LiftoffPromptSync",
            properties={
                "UseCase": use_case_name,
                "Stage": stage.name,
                "TableName": prompts_table.table_name,
                "Prompts": json.dumps(payload, sort_keys=True, separators=(",", ":")),
            },
        )
        self.resource.node.add_dependency(prompts_table)
        # With @aws-cdk/aws-lambda:createNewPoliciesWithAddToRolePolicy, grants land in separate inline
        # policies that neither function depends on: without these edges CloudFormation may invoke the
        # sync before the framework may invoke it, or before the sync may write the table (aws-cdk#24476).
        # Depending on the constructs covers every policy under them.
        self.resource.node.add_dependency(self.function, self.function.role, provider)
