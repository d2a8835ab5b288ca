"""IdempotencyTable: Powertools idempotency records for `Idempotency-Key` (service/handlers/idempotency.py)."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from constructs import Construct

from liftoff.foundation.config import StageConfig
from service.handlers.idempotency import TTL_ATTRIBUTE
from stacks.table_factory import stage_table


class IdempotencyTable(Construct):
    """pk: the hashed key; records expire through TTL after `api.idempotency_ttl_seconds`."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, kms_key: kms.IKey | None = None):
        super().__init__(scope, construct_id)
        self.table = stage_table(self, "Table", stage=stage, time_to_live_attribute=TTL_ATTRIBUTE, kms_key=kms_key)
