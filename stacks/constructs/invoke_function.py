"""InvokeFunction: the Lambda behind POST /v1/invoke, allowed to call only the configured models."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from liftoff.foundation.canary import CANARY_TIMEOUT_S
from liftoff.foundation.config import StageConfig, UseCaseConfig
from liftoff.foundation.function_env import FunctionResources, invoke_environment
from liftoff.foundation.memory import invoke_memory_mb
from liftoff.foundation.usecases import UseCase
from stacks.bedrock_access import invoke_resource_arns
from stacks.constructs.knowledge_base import KnowledgeBase
from stacks.constructs.model_guardrail import ModelGuardrail
from stacks.constructs.model_profiles import ModelProfiles
from stacks.lambda_factory import FunctionProps, allow, published_alias, python_function
from stacks.table_factory import TABLE_KEY_ACTIONS


class InvokeFunction(Construct):
    """Runs service.handlers.invoke; reads its prompts table, reads and adds to its spend counter,
    invokes the use case's models only. `golden_canary=True` makes the scheduled golden canary instead
    (service.handlers.canary): the same invoke path and the same grants, minus what only the API
    needs (idempotency records, the feedback key, captures)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        use_case: UseCase,
        stage: StageConfig,
        prompts_table: dynamodb.ITableV2,
        spend_table: dynamodb.ITableV2,
        idempotency_table: dynamodb.ITableV2,
        capture_table: dynamodb.ITableV2,
        feedback_secret: secretsmanager.ISecret,
        guardrail: ModelGuardrail | None,
        model_profiles: ModelProfiles,
        knowledge_base: KnowledgeBase | None = None,
        golden_canary: bool = False,
    ):
        super().__init__(scope, construct_id)
        config = use_case.config
        # what both functions are pointed at (the feedback function gets the same names)
        self.resources = FunctionResources(
            prompts_table=prompts_table.table_name,
            spend_table=spend_table.table_name,
            idempotency_table=idempotency_table.table_name,
            capture_table=capture_table.table_name,
            feedback_secret=feedback_secret.secret_arn,
            guardrail=(guardrail.guardrail.attr_guardrail_id, guardrail.version.attr_version) if guardrail else None,
            model_profiles=Stack.of(scope).to_json_string(model_profiles.arns),
            knowledge_base_id=knowledge_base.knowledge_base.attr_knowledge_base_id if knowledge_base else None,
        )
        self.function = python_function(
            self,
            "Function",
            FunctionProps(
                handler="service.handlers.canary.lambda_handler"
                if golden_canary
                else "service.handlers.invoke.lambda_handler",
                description=f"Liftoff {use_case.name} ({stage.name}): "
                + ("the golden canary (scheduled)" if golden_canary else "invoke a prompt on Bedrock"),
                # the canary runs its cases one after another, on two versions during a prompt canary
                timeout_seconds=CANARY_TIMEOUT_S if golden_canary else config.lambda_timeout_seconds,
                reserved_concurrency=None if golden_canary else config.capacity.reserved_concurrency,
                async_invoker="EventBridge Scheduler (the golden canary's schedule)" if golden_canary else None,
                tracing=config.observability.tracing,
                memory_mb=invoke_memory_mb(config.capacity.memory_mb),
                log_retention_days=stage.log_retention_days,
                destroy_on_delete=stage.destroy_on_delete,
                environment=invoke_environment(use_case, stage=stage.name, resources=self.resources),
                snapstart=config.capacity.snapstart and not golden_canary,
            ),
        )
        # what API Gateway invokes: with SnapStart, a published version (through its alias), never $LATEST
        snapstart = config.capacity.snapstart and not golden_canary
        self.entry: lambda_.IFunction = published_alias(self.function) if snapstart else self.function
        self._grant_models(config, model_profiles)
        self._allow("ReadPromptRegistry", ["dynamodb:GetItem", "dynamodb:Query"], [prompts_table.table_arn])
        self._allow("ReadAndAddSpend", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [spend_table.table_arn])
        tables = [prompts_table, spend_table]
        if not golden_canary:
            self._allow(
                "KeepIdempotencyRecords",
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                [idempotency_table.table_arn],
            )
            self._allow("ReadFeedbackKey", ["secretsmanager:GetSecretValue"], [feedback_secret.secret_arn])
            tables.append(idempotency_table)
        if config.capture.enabled and not golden_canary:  # capture writes new items only: PutItem
            self._allow("CaptureRequests", ["dynamodb:PutItem"], [capture_table.table_arn])
            tables.append(capture_table)
        keys = sorted({t.encryption_key.key_arn for t in tables if t.encryption_key})
        if keys:  # customer-managed table key (security.table_kms_key_arn)
            self._allow("UseTableKey", list(TABLE_KEY_ACTIONS), keys)
        if guardrail:
            # Converse with guardrailConfig needs bedrock:ApplyGuardrail on the guardrail (Bedrock user guide)
            self._allow("ApplyOwnGuardrail", ["bedrock:ApplyGuardrail"], [guardrail.guardrail.attr_guardrail_arn])
        if knowledge_base:
            # Retrieve is authorised on the knowledge base; the knowledge base embeds the query and reads
            # its index through its own service role (stacks/constructs/knowledge_base.py)
            self._allow("RetrieveFromOwnKnowledgeBase", ["bedrock:Retrieve"], [knowledge_base.arn])

    def _grant_models(self, use_case: UseCaseConfig, model_profiles: ModelProfiles) -> None:
        stack = Stack.of(self)
        # The application inference profiles it calls, and what they route to: Bedrock authorises a call
        # through a profile against the profile and against the system profile or model it copies, in
        # each Region the request may be routed to (Bedrock user guide, inference profile prerequisites).
        self.model_arns = sorted(model_profiles.arns.values(), key=str) + invoke_resource_arns(
            use_case.models.allowed,
            partition=stack.partition,
            region=stack.region,
            account=stack.account,
            profile_regions=use_case.models.profile_regions,
        )
        # Converse is authorised by bedrock:InvokeModel (Bedrock API reference, Converse).
        self._allow("InvokeConfiguredModels", ["bedrock:InvokeModel"], self.model_arns)

    def _allow(self, sid: str, actions: list[str], resources: list[str]) -> None:
        allow(self.function, sid, actions, resources)
