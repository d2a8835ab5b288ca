"""cdk-nag v3 (CDK policy-validation plugins): the checks, and the one way to acknowledge a finding.

Acknowledgements sit next to the resource they excuse (in the construct that creates it) and
each carries its reason. A finding with no acknowledgement fails synth.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

PACK = "AwsSolutions"
SERVERLESS = "Serverless"
PACKS = (PACK, SERVERLESS)


def add_nag_checks(app: App) -> None:
    """Run the AWS Solutions and the Serverless packs over every stack at synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True), ServerlessChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule: str, reason: str, pack: str = PACK) -> None:
    """Acknowledge one finding (`IAM5[Resource::*]`, `L1`, `LambdaDLQ`...) of a pack on `scope`
    and everything under it. cdk-nag v3 ids read `<Pack>::<Pack>-<rule>[<finding>]`; granular
    findings (IAM4, IAM5) must be acknowledged one by one, with their exact finding text."""
    if pack not in PACKS:
        raise ValueError(f"unknown cdk-nag pack {pack!r}; use one of {', '.join(PACKS)}")
    if len(reason) < 20:
        raise ValueError(f"acknowledging {rule} needs a real reason, not {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{pack}::{pack}-{rule}", reason=reason))
