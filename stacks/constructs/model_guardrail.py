"""ModelGuardrail: the use case's Amazon Bedrock Guardrail (from `guardrail:` in its config) and a
published version of it, which the invoke function attaches to every Converse call.

A guardrail version is immutable and CloudFormation only publishes a new one when the version
resource changes, so its description carries a hash of the policy: change the policy, get a new
version, and the function moves to it in the same deployment."""

from __future__ import annotations

import hashlib
import json

from aws_cdk import aws_bedrock as bedrock
from constructs import Construct

from liftoff.foundation.config import GroundingConfig, GuardrailConfig

GUARDRAIL_NAME_MAX = 50  # Bedrock CreateGuardrail: name, 1-50 of [0-9a-zA-Z-_]


def grounding_policy(grounding: GroundingConfig) -> dict:
    """The contextual grounding check (`knowledge.grounding`): an answer scoring below a threshold is
    ungrounded (GROUNDING: not supported by its passages; RELEVANCE: not answering the question); the
    action BLOCKs it, or NONE only reports the scores (AWS::Bedrock::Guardrail ContextualGroundingFilterConfig)."""
    return {
        "filtersConfig": [
            {"type": kind, "threshold": threshold, "action": grounding.action, "enabled": True}
            for kind, threshold in (
                ("GROUNDING", grounding.grounding_threshold),
                ("RELEVANCE", grounding.relevance_threshold),
            )
        ]
    }


def policy_properties(config: GuardrailConfig, grounding: GroundingConfig | None = None) -> dict:
    """The CfnGuardrail policy properties, as plain data (hashed for the version, asserted in tests);
    `grounding` when the use case's answers are checked against their passages."""
    filters = [
        {"type": category, "inputStrength": f.input, "outputStrength": f.output}
        for category, f in sorted(config.content_filters.items())
    ]
    filters.append({"type": "PROMPT_ATTACK", "inputStrength": config.prompt_attack, "outputStrength": "NONE"})
    props: dict = {"contentPolicyConfig": {"filtersConfig": filters}}
    if config.denied_topics:
        props["topicPolicyConfig"] = {
            "topicsConfig": [
                {"name": t.name, "definition": t.definition, "examples": t.examples, "type": "DENY"}
                for t in config.denied_topics
            ]
        }
    words: dict = {}
    if config.blocked_words:
        words["wordsConfig"] = [{"text": w} for w in config.blocked_words]
    if config.managed_profanity:
        words["managedWordListsConfig"] = [{"type": "PROFANITY"}]
    if words:
        props["wordPolicyConfig"] = words
    sensitive: dict = {}
    if config.pii:
        sensitive["piiEntitiesConfig"] = [{"type": t, "action": a} for t, a in sorted(config.pii.items())]
    if config.regexes:
        sensitive["regexesConfig"] = [
            {"name": r.name, "pattern": r.pattern, "action": r.action} for r in config.regexes
        ]
    if sensitive:
        props["sensitiveInformationPolicyConfig"] = sensitive
    if grounding is not None and grounding.enabled:
        props["contextualGroundingPolicyConfig"] = grounding_policy(grounding)
    return props


def version_description(config: GuardrailConfig, grounding: GroundingConfig | None = None) -> str:
    """Changes whenever the policy or the messages change, so that CloudFormation publishes a new version."""
    document = {
        **policy_properties(config, grounding),
        "in": config.blocked_input_message,
        "out": config.blocked_output_message,
    }
    return f"policy {hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]}"


def _snake(name: str) -> str:
    """A top-level property's keyword argument (nested structs passed as dicts keep JSON's camelCase)."""
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


class ModelGuardrail(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        config: GuardrailConfig,
        grounding: GroundingConfig | None = None,
    ):
        super().__init__(scope, construct_id)
        policies = policy_properties(config, grounding)
        self.guardrail = bedrock.CfnGuardrail(
            self,
            "Guardrail",
            name=name,
            description=f"Liftoff guardrail of {name}",
            blocked_input_messaging=config.blocked_input_message,
            blocked_outputs_messaging=config.blocked_output_message,
            **{_snake(k): v for k, v in policies.items()},
        )
        self.version = bedrock.CfnGuardrailVersion(
            self,
            "Version",
            guardrail_identifier=self.guardrail.attr_guardrail_id,
            description=version_description(config, grounding),
        )
