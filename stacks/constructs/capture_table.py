"""CaptureTable: captured requests and their ratings (service/dal/capture_store.py).

pk the request id; items expire through TTL after `capture.ttl_days`; the `by-rating` index (rating,
rated_at) lets `liftoff eval harvest` Query rated requests by rating and time instead of scanning.
Encrypted like the other tables (stacks/table_factory.py)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from liftoff.foundation.config import StageConfig
from service.dal.capture_store import RATING_INDEX, TTL_ATTRIBUTE
from stacks.table_factory import stage_table


class CaptureTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, kms_key: kms.IKey | None = None):
        super().__init__(scope, construct_id)
        self.table = stage_table(self, "Table", stage=stage, time_to_live_attribute=TTL_ATTRIBUTE, kms_key=kms_key)
        self.table.add_global_secondary_index(
            index_name=RATING_INDEX,
            partition_key=dynamodb.Attribute(name="rating", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="rated_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
