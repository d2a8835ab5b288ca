"""FeedbackFunction: POST /v1/feedback (service/handlers/feedback.py) and its role, which may read the
feedback key and update items of the capture table, nothing else."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from liftoff.foundation.config import StageConfig
from liftoff.foundation.function_env import FunctionResources, feedback_environment
from liftoff.foundation.memory import invoke_memory_mb
from liftoff.foundation.usecases import UseCase
from stacks.lambda_factory import FunctionProps, allow, python_function
from stacks.table_factory import TABLE_KEY_ACTIONS


class FeedbackFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        use_case: UseCase,
        stage: StageConfig,
        resources: FunctionResources,
        capture_table: dynamodb.ITableV2,
        secret: secretsmanager.ISecret,
    ):
        super().__init__(scope, construct_id)
        self.function = python_function(
            self,
            "Function",
            FunctionProps(
                handler="service.handlers.feedback.lambda_handler",
                description=f"Liftoff {use_case.name} ({stage.name}): store a rating of an answer",
                timeout_seconds=10,
                memory_mb=invoke_memory_mb(None),  # measured for the invoke handler, which imports more
                log_retention_days=stage.log_retention_days,
                destroy_on_delete=stage.destroy_on_delete,
                tracing=use_case.config.observability.tracing,
                environment=feedback_environment(use_case, stage=stage.name, resources=resources),
            ),
        )
        allow(self.function, "ReadFeedbackKey", ["secretsmanager:GetSecretValue"], [secret.secret_arn])
        allow(self.function, "RateCapturedRequests", ["dynamodb:UpdateItem"], [capture_table.table_arn])
        if capture_table.encryption_key:  # customer-managed table key (security.table_kms_key_arn)
            allow(self.function, "UseTableKey", list(TABLE_KEY_ACTIONS), [capture_table.encryption_key.key_arn])
