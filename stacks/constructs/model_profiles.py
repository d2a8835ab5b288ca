"""ModelProfiles: one Amazon Bedrock application inference profile per model the use case may call.

On-demand calls through a model id or a system-defined profile carry no resource tags, so AWS
Budgets and Cost Explorer cannot attribute the model's spend to the use case; calls through an
application inference profile do, with the profile's tags (Bedrock user guide, "Inference profiles").
Each profile copies the model's system-defined cross-Region profile (or the foundation model), carries
the stack's tags (project, use-case, stage, cost-center), and the invoke function calls through it.
Prompts keep naming model ids; the function maps each id to its profile ARN (LIFTOFF_MODEL_PROFILES)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_bedrock as bedrock
from constructs import Construct

from liftoff.foundation.bedrock_ids import application_profile_name
from stacks.bedrock_access import copy_source_arn


class ModelProfiles(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, use_case: str, stage: str, model_ids: list[str]):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.profiles: dict[str, bedrock.CfnApplicationInferenceProfile] = {}
        for model_id in model_ids:
            # the construct id follows the model, so reordering `models.allowed` replaces nothing
            self.profiles[model_id] = bedrock.CfnApplicationInferenceProfile(
                self,
                f"Profile-{model_id}",
                inference_profile_name=application_profile_name(use_case, stage, model_id),
                model_source=bedrock.CfnApplicationInferenceProfile.InferenceProfileModelSourceProperty(
                    copy_from=copy_source_arn(
                        model_id, partition=stack.partition, region=stack.region, account=stack.account
                    )
                ),
            )

    @property
    def arns(self) -> dict[str, str]:
        """model id -> the profile ARN the function invokes (a CloudFormation token)."""
        return {model_id: p.attr_inference_profile_arn for model_id, p in self.profiles.items()}
