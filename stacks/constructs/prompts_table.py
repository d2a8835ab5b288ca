"""PromptsTable: the prompt registry's DynamoDB table (versions and aliases, see dal/prompt_store.py)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from liftoff.config import StageConfig


class PromptsTable(Construct):
    """On-demand, encrypted at rest; PITR and deletion protection as the stage says."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig):
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=stage.point_in_time_recovery
            ),
            deletion_protection=stage.deletion_protection,
            removal_policy=RemovalPolicy.DESTROY if stage.destroy_on_delete else RemovalPolicy.RETAIN,
        )
