"""InvokeFunction: the Lambda behind POST /v1/invoke, allowed to call only the configured models."""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from liftoff.config import StageConfig, UseCaseConfig
from liftoff.pricing import prices_env_value
from service.logic.cost import ModelPrice
from stacks.bedrock_access import invoke_resource_arns
from stacks.constructs.model_guardrail import ModelGuardrail
from stacks.lambda_factory import FunctionProps, python_function


class InvokeFunction(Construct):
    """Runs service.handlers.invoke; reads its prompts table, reads and adds to its spend counter,
    invokes the use case's models only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        use_case: UseCaseConfig,
        stage: StageConfig,
        prompts_table: dynamodb.ITableV2,
        spend_table: dynamodb.ITableV2,
        idempotency_table: dynamodb.ITableV2,
        guardrail: ModelGuardrail | None,
        prices: dict[str, ModelPrice],
    ):
        super().__init__(scope, construct_id)
        models = use_case.models
        self.function = python_function(
            self,
            "Function",
            FunctionProps(
                handler="service.handlers.invoke.lambda_handler",
                description=f"Liftoff {use_case.name} ({stage.name}): invoke a prompt on Bedrock",
                timeout_seconds=models.lambda_timeout_seconds,
                reserved_concurrency=use_case.capacity.reserved_concurrency,
                log_retention_days=stage.log_retention_days,
                destroy_on_delete=stage.destroy_on_delete,
                environment={
                    "LIFTOFF_USE_CASE": use_case.name,
                    "LIFTOFF_STAGE": stage.name,
                    "LIFTOFF_PROMPTS_TABLE": prompts_table.table_name,
                    "LIFTOFF_ALLOWED_MODEL_IDS": ",".join(models.allowed),
                    "LIFTOFF_MODEL_PRICES": prices_env_value(prices),
                    "LIFTOFF_SPEND_TABLE": spend_table.table_name,
                    "LIFTOFF_IDEMPOTENCY_TABLE": idempotency_table.table_name,
                    "LIFTOFF_IDEMPOTENCY_TTL_S": str(use_case.api.idempotency_ttl_seconds),
                    "LIFTOFF_DAILY_CAP_USD": str(use_case.budget.daily_cap_usd),
                    "LIFTOFF_LOG_PROMPTS": str(use_case.logging.log_prompts).lower(),
                    "LIFTOFF_REDACT_PATTERNS": json.dumps(use_case.logging.redact_patterns),
                    "LIFTOFF_DEFAULT_ALIAS": use_case.prompts.default_alias,
                    "LIFTOFF_PROMPT_CACHE_TTL_S": str(use_case.prompts.cache_ttl_seconds),
                    "LIFTOFF_MAX_BODY_BYTES": str(use_case.api.max_body_bytes),
                    "LIFTOFF_BEDROCK_READ_TIMEOUT_S": str(models.timeout_seconds),
                    "LIFTOFF_BEDROCK_MAX_ATTEMPTS": str(models.max_attempts),
                    **({"LIFTOFF_FALLBACK_MODEL_ID": models.fallback} if models.fallback else {}),
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                    **(
                        {
                            "LIFTOFF_GUARDRAIL_ID": guardrail.guardrail.attr_guardrail_id,
                            "LIFTOFF_GUARDRAIL_VERSION": guardrail.version.attr_version,
                        }
                        if guardrail
                        else {}
                    ),
                },
            ),
        )
        self._grant_models(use_case)
        self._allow("ReadPromptRegistry", ["dynamodb:GetItem", "dynamodb:Query"], [prompts_table.table_arn])
        self._allow("ReadAndAddSpend", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [spend_table.table_arn])
        self._allow(
            "KeepIdempotencyRecords",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            [idempotency_table.table_arn],
        )
        tables = (prompts_table, spend_table, idempotency_table)
        keys = sorted({t.encryption_key.key_arn for t in tables if t.encryption_key})
        if keys:  # customer-managed table key (security.table_kms_key_arn)
            self._allow("UseTableKey", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], keys)
        if guardrail:
            # Converse with guardrailConfig needs bedrock:ApplyGuardrail on the guardrail (Bedrock user guide)
            self._allow("ApplyOwnGuardrail", ["bedrock:ApplyGuardrail"], [guardrail.guardrail.attr_guardrail_arn])

    def _grant_models(self, use_case: UseCaseConfig) -> None:
        stack = Stack.of(self)
        self.model_arns = invoke_resource_arns(
            use_case.models.allowed,
            partition=stack.partition,
            region=stack.region,
            account=stack.account,
            profile_regions=use_case.models.profile_regions,
        )
        # Converse is authorised by bedrock:InvokeModel (Bedrock API reference, Converse).
        self._allow("InvokeConfiguredModels", ["bedrock:InvokeModel"], self.model_arns)

    def _allow(self, sid: str, actions: list[str], resources: list[str]) -> None:
        self.function.add_to_role_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))
