"""The model's spend is visible to Budgets: every model call goes through a tagged application
inference profile of the use case (on-demand calls by model id or system profile carry no tags)."""

import json
import re

from liftoff.foundation.bedrock_ids import application_profile_name
from liftoff.foundation.usecases import load_all_use_cases

from .test_usecase_stack import render


def test_one_tagged_profile_per_allowed_model_copying_its_system_profile(synthesized):
    stage, _, templates = synthesized
    for use_case in load_all_use_cases():
        template = templates[use_case.name]
        profiles = template.find_resources("AWS::Bedrock::ApplicationInferenceProfile")
        assert len(profiles) == len(use_case.config.models.allowed)
        by_name = {p["Properties"]["InferenceProfileName"]: p["Properties"] for p in profiles.values()}
        for model_id in use_case.config.models.allowed:
            name = application_profile_name(use_case.name, stage, model_id)
            assert re.fullmatch(r"([0-9a-zA-Z][ _-]?)+", name) and len(name) <= 64
            props = by_name[name]
            source = render(props["ModelSource"]["CopyFrom"])
            assert source == f"arn:aws:bedrock:us-east-1:111111111111:inference-profile/{model_id}"
            tags = {t["Key"]: t["Value"] for t in props["Tags"]}
            assert tags["use-case"] == use_case.name  # what the monthly budget filters on
            assert tags["stage"] == stage and tags["project"] == "liftoff" and tags["cost-center"]


def test_the_function_maps_every_allowed_model_to_its_profile(synthesized):
    _, _, templates = synthesized
    for use_case in load_all_use_cases():
        template = templates[use_case.name]
        (invoke,) = template.find_resources(
            "AWS::Lambda::Function", {"Properties": {"Handler": "service.handlers.invoke.lambda_handler"}}
        ).values()
        raw = invoke["Properties"]["Environment"]["Variables"]["LIFTOFF_MODEL_PROFILES"]
        separator, parts = raw["Fn::Join"]
        refs = [p["Fn::GetAtt"] for p in parts if isinstance(p, dict)]
        text = separator.join(p if isinstance(p, str) else "ARN" for p in parts)
        assert set(json.loads(text)) == set(use_case.config.models.allowed)
        profiles = template.find_resources("AWS::Bedrock::ApplicationInferenceProfile")
        assert sorted(r[0] for r in refs) == sorted(profiles)
        assert {r[1] for r in refs} == {"InferenceProfileArn"}
