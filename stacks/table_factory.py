"""The one way this template makes a DynamoDB table: on demand, encrypted at rest with a KMS key
(AWS managed, or the customer-managed key named in `security.table_kms_key_arn`), PITR and
deletion protection as the stage says."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from liftoff.foundation.config import StageConfig

# What a function needs on a customer-managed table key (security.table_kms_key_arn) to read and write
# the table: its roles get these on the key, and the permissions boundary lets them through.
TABLE_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


def stage_table(
    scope: Construct,
    construct_id: str,
    *,
    stage: StageConfig,
    sort_key: str | None = None,
    time_to_live_attribute: str | None = None,
    kms_key: kms.IKey | None = None,
) -> dynamodb.TableV2:
    """A table keyed by the string `pk` (and `sk` when `sort_key` is given)."""
    table = dynamodb.TableV2(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING) if sort_key else None,
        billing=dynamodb.Billing.on_demand(),
        encryption=(
            dynamodb.TableEncryptionV2.customer_managed_key(kms_key)
            if kms_key
            else dynamodb.TableEncryptionV2.aws_managed_key()
        ),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=stage.point_in_time_recovery
        ),
        deletion_protection=stage.deletion_protection,
        time_to_live_attribute=time_to_live_attribute,
        removal_policy=RemovalPolicy.DESTROY if stage.destroy_on_delete else RemovalPolicy.RETAIN,
    )
    if not stage.point_in_time_recovery:
        table.node.default_child.add_metadata(
            "checkov",
            {
                "skip": [
                    {
                        "id": "CKV_AWS_165",
                        "comment": f"The {stage.name} stage is disposable (StageConfig.point_in_time_recovery is "
                        "off); prompts come back from git on deploy. Prod tables have PITR.",
                    }
                ]
            },
        )
    return table
