"""Bedrock model and inference-profile ids: how an id is routed (its cross-Region prefix and the Regions a
system-defined profile routes to) and the name of the application inference profile a stack creates for it.
The ARNs IAM grants on are stacks/bedrock_access.py.
"""

from __future__ import annotations

import re

from liftoff.foundation.names import fitted_name

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


def application_profile_name(use_case: str, stage: str, model_id: str) -> str:
    """The application inference profile's name: 1-64 of [0-9a-zA-Z] with single ` _-` between
    (CloudFormation AWS::Bedrock::ApplicationInferenceProfile), unique per use case, stage and model."""
    return fitted_name(re.sub(r"[^0-9a-zA-Z]+", "-", f"liftoff-{use_case}-{stage}-{model_id}").strip("-"), 64)
