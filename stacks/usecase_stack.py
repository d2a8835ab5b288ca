"""UseCaseStack: everything one use case needs in one stage, composed from the constructs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from liftoff.config import StageConfig
from liftoff.usecases import UseCase
from stacks.constructs.api_front_door import ApiFrontDoor
from stacks.constructs.invoke_function import InvokeFunction
from stacks.constructs.prompt_sync import PromptSync
from stacks.constructs.prompts_table import PromptsTable

PROJECT_TAG = "liftoff"


def stack_name(use_case: str, stage: str) -> str:
    return f"Liftoff-{use_case}-{stage}"


class UseCaseStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, use_case: UseCase, stage: StageConfig, **kwargs):
        super().__init__(scope, construct_id, description=f"Liftoff {use_case.name} ({stage.name})", **kwargs)
        config = use_case.config
        for key, value in (
            ("project", PROJECT_TAG),
            ("use-case", config.name),
            ("stage", stage.name),
            ("cost-center", config.cost_center),
        ):
            Tags.of(self).add(key, value)

        self.prompts = PromptsTable(self, "Prompts", stage=stage)
        self.invoke = InvokeFunction(
            self, "Invoke", use_case=config, stage=stage, prompts_table=self.prompts.table, prices=use_case.prices
        )
        self.prompt_sync = PromptSync(
            self,
            "PromptSync",
            use_case_name=config.name,
            stage=stage,
            prompts=use_case.prompts,
            prompts_table=self.prompts.table,
        )
        self.api = ApiFrontDoor(self, "Api", use_case=config, stage=stage, handler=self.invoke.function)

        CfnOutput(self, "InvokeUrl", value=self.api.api.url_for_path("/v1/invoke"))
        CfnOutput(self, "ApiKeyId", value=self.api.api_key.key_id)
        CfnOutput(self, "PromptsTableName", value=self.prompts.table.table_name)
        CfnOutput(self, "InvokeFunctionName", value=self.invoke.function.function_name)
