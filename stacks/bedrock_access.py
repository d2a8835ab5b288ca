"""The Bedrock resources a function may invoke, derived from model ids (one helper, no wildcards).

A cross-Region inference profile id (`us.amazon.nova-micro-v1:0`) needs two grants: the profile in
this account and Region, and the foundation model in every Region the profile routes to, since
Bedrock authorises the routed call against the foundation model there.
See https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from stacks.names import fitted_name

# Destination Regions of the system-defined profiles, by prefix, as listed in the Bedrock user guide
# (cross-region-inference-support.html). A model whose profile routes elsewhere overrides them in
# `models.profile_regions` of its use-case config.
PROFILE_DESTINATION_REGIONS: dict[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-central-1", "ca-west-1"),
    "us-gov": ("us-gov-east-1", "us-gov-west-1"),
}


# A global cross-Region profile (`global.<model>`) routes to any commercial Region; Bedrock authorises the
# routed call against the Region-less foundation-model ARN (user guide, global-cross-region-inference.html)
GLOBAL_PREFIX = "global"


def split_model_id(model_id: str) -> tuple[str | None, str]:
    """`us.amazon.nova-micro-v1:0` -> ("us", "amazon.nova-micro-v1:0"), `global.x` -> ("global", "x");
    a bare model id -> (None, id)."""
    prefix, _, rest = model_id.partition(".")
    if rest and (prefix in PROFILE_DESTINATION_REGIONS or prefix == GLOBAL_PREFIX):
        return prefix, rest
    return None, model_id


def invoke_resource_arns(
    model_ids: Sequence[str],
    *,
    partition: str,
    region: str,
    account: str,
    profile_regions: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Every ARN `bedrock:InvokeModel` must be allowed on for these model ids, sorted, no duplicates."""
    overrides = dict(profile_regions or {})
    arns: set[str] = set()
    for model_id in model_ids:
        prefix, foundation_id = split_model_id(model_id)
        if prefix is None:
            arns.add(f"arn:{partition}:bedrock:{region}::foundation-model/{foundation_id}")
            continue
        arns.add(f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}")
        if prefix == GLOBAL_PREFIX:  # the model in this Region, and the Region-less one every route is checked on
            arns.add(f"arn:{partition}:bedrock:{region}::foundation-model/{foundation_id}")
            arns.add(f"arn:{partition}:bedrock:::foundation-model/{foundation_id}")
            continue
        for dest in overrides.get(prefix, PROFILE_DESTINATION_REGIONS[prefix]):
            arns.add(f"arn:{partition}:bedrock:{dest}::foundation-model/{foundation_id}")
    return sorted(arns)


def copy_source_arn(model_id: str, *, partition: str, region: str, account: str) -> str:
    """What an application inference profile for `model_id` copies: the system-defined cross-Region
    profile for a `us.`-style id, else the foundation model in this Region."""
    prefix, foundation_id = split_model_id(model_id)
    if prefix is None:
        return f"arn:{partition}:bedrock:{region}::foundation-model/{foundation_id}"
    return f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}"


def application_profile_name(use_case: str, stage: str, model_id: str) -> str:
    """The application inference profile's name: 1-64 of [0-9a-zA-Z] with single ` _-` between
    (CloudFormation AWS::Bedrock::ApplicationInferenceProfile), unique per use case, stage and model."""
    return fitted_name(re.sub(r"[^0-9a-zA-Z]+", "-", f"liftoff-{use_case}-{stage}-{model_id}").strip("-"), 64)
