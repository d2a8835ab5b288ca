"""The Bedrock resources a function may invoke, derived from model ids (one helper, no wildcards).

A cross-Region inference profile id (`us.amazon.nova-micro-v1:0`) needs two grants: the profile in
this account and Region, and the foundation model in every Region the profile routes to, since
Bedrock authorises the routed call against the foundation model there.
See https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from liftoff.foundation.bedrock_ids import GLOBAL_PREFIX, PROFILE_DESTINATION_REGIONS, split_model_id


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
