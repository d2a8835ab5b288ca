from liftoff.foundation.bedrock_ids import split_model_id
from stacks.bedrock_access import copy_source_arn, invoke_resource_arns


def test_split_model_id():
    assert split_model_id("us.amazon.nova-micro-v1:0") == ("us", "amazon.nova-micro-v1:0")
    assert split_model_id("amazon.nova-micro-v1:0") == (None, "amazon.nova-micro-v1:0")


def test_inference_profile_grants_profile_and_each_destination_region():
    arns = invoke_resource_arns(["us.amazon.nova-micro-v1:0"], partition="aws", region="us-east-1", account="111")
    assert arns == [
        "arn:aws:bedrock:us-east-1:111:inference-profile/us.amazon.nova-micro-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0",
        "arn:aws:bedrock:us-east-2::foundation-model/amazon.nova-micro-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-micro-v1:0",
    ]
    assert not any("*" in arn for arn in arns)


def test_foundation_model_and_region_override():
    arns = invoke_resource_arns(
        ["amazon.titan-text-lite-v1", "eu.m.x-v1:0"],
        partition="aws",
        region="eu-west-1",
        account="1",
        profile_regions={"eu": ["eu-west-1"]},
    )
    assert arns == [
        "arn:aws:bedrock:eu-west-1:1:inference-profile/eu.m.x-v1:0",
        "arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-text-lite-v1",
        "arn:aws:bedrock:eu-west-1::foundation-model/m.x-v1:0",
    ]


GLOBAL_HAIKU = "global.anthropic.claude-haiku-4-5-20251001-v1:0"


def test_a_global_profile_grants_the_profile_the_regional_model_and_the_region_less_model():
    # Given a global cross-Region profile id (priced by pricing/bedrock.yaml's `kinds.global`)
    # When its grants are derived / Then the three the Bedrock user guide requires (global-cross-region-inference):
    # the profile in this Region, the model in this Region, and the Region-less model any route is authorised on
    assert split_model_id(GLOBAL_HAIKU) == ("global", "anthropic.claude-haiku-4-5-20251001-v1:0")
    arns = invoke_resource_arns([GLOBAL_HAIKU], partition="aws", region="us-east-1", account="111")
    assert arns == [
        "arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
        f"arn:aws:bedrock:us-east-1:111:inference-profile/{GLOBAL_HAIKU}",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
    ]
    # and an application inference profile copies the system-defined global profile, not a foundation model
    assert copy_source_arn(GLOBAL_HAIKU, partition="aws", region="us-east-1", account="111") == (
        f"arn:aws:bedrock:us-east-1:111:inference-profile/{GLOBAL_HAIKU}"
    )
