"""SpendTable: today's spend per use case, the hard daily cap's counter (see dal/spend_counter.py)."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from constructs import Construct

from liftoff.foundation.config import StageConfig
from service.dal.spend_counter import TTL_ATTRIBUTE
from stacks.table_factory import stage_table


class SpendTable(Construct):
    """pk `<use_case>#<YYYY-MM-DD>`; old days expire through TTL."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, kms_key: kms.IKey | None = None):
        super().__init__(scope, construct_id)
        self.table = stage_table(self, "Table", stage=stage, time_to_live_attribute=TTL_ATTRIBUTE, kms_key=kms_key)
