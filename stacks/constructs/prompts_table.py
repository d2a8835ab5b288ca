"""PromptsTable: the prompt registry's DynamoDB table (versions and aliases, see dal/prompt_store.py)."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from constructs import Construct

from liftoff.foundation.config import StageConfig
from stacks.table_factory import stage_table


class PromptsTable(Construct):
    """pk `<use_case>#<prompt_id>`, sk `v#<n>` or `alias#<name>`."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, kms_key: kms.IKey | None = None):
        super().__init__(scope, construct_id)
        self.table = stage_table(self, "Table", stage=stage, sort_key="sk", kms_key=kms_key)
