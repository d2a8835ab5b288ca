"""The local stand-in for a Bedrock Guardrail: the simulator applies it when a Converse request
carries `guardrailConfig`, so the blocked and masked paths run end to end without AWS.

It follows the use case's `guardrail:` config with local rules, and is no measure of what the real
guardrail catches:
- prompt attack (when its strength is not NONE): a pattern of common injection phrasings
- blocked words: whole-word, case-insensitive
- PII: EMAIL, PHONE, CREDIT_DEBIT_CARD_NUMBER, IP_ADDRESS with the redaction patterns of the
  service (lambdas/service/logic/redact.py); BLOCK on input, ANONYMIZE (`{EMAIL}`) on output
- contextual grounding (a use case with `knowledge.grounding`): when the request carries guardContent
  `grounding_source` blocks, the answer is scored by word overlap (liftoff/local/retrieval_answers.py), with
  the use case's thresholds and action, in the trace shape Converse reports
- content filters and denied topics are not simulated (they need a model to judge meaning)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from liftoff.foundation.config import GroundingConfig, GuardrailConfig
from liftoff.local.retrieval_answers import answer_text, grounding_scores
from service.logic.redact import DEFAULT_RULES, Rule

PROMPT_ATTACK = re.compile(
    r"ignore (all |any )?(the |your )?(previous|prior|above|earlier) (instructions|rules)"
    r"|forget (the|all|your) (rules|instructions)"
    r"|(reveal|print|show) (me )?(your |the )?system prompt"
    r"|you are now in [a-z ]*mode|new instruction from|^\s*system\s*:|\nsystem\s*:|jailbreak",
    re.I,
)
# Bedrock PII entity type -> the service's redaction rule names
PII_RULES = {"EMAIL": "EMAIL", "PHONE": "PHONE", "CREDIT_DEBIT_CARD_NUMBER": "CARD", "IP_ADDRESS": "IP"}


@dataclass(frozen=True)
class Verdict:
    action: str  # NONE, BLOCKED, ANONYMIZED
    text: str
    assessment: dict = field(default_factory=dict)  # a GuardrailAssessment, as Converse's trace has it

    def trace(self, where: str, guardrail_id: str) -> dict:
        if where == "input":
            return {"inputAssessment": {guardrail_id: self.assessment}}
        return {"outputAssessments": {guardrail_id: [self.assessment]}}


def _pii(entity: str, match: str, action: str) -> dict:
    return {
        "sensitiveInformationPolicy": {
            "piiEntities": [{"match": match, "type": entity, "action": action}],
            "regexes": [],  # required by the API's shape (botocore's GuardrailSensitiveInformationPolicyAssessment)
        }
    }


@dataclass(frozen=True)
class GuardrailRules:
    prompt_attack: bool
    blocked_words: tuple[str, ...]
    block_pii: tuple[tuple[str, Rule], ...]
    mask_pii: tuple[tuple[str, Rule], ...]
    blocked_input_message: str
    blocked_output_message: str
    # which policies the guardrail has: each is billed in text units (the trace's usage says how many)
    content_filters: bool = True
    denied_topics: bool = False
    managed_words: bool = False
    pii_entities: bool = False
    regexes: bool = False
    grounding: GroundingConfig | None = None  # the contextual grounding filter, when the use case has one

    @classmethod
    def from_config(cls, config: GuardrailConfig, grounding: GroundingConfig | None = None) -> GuardrailRules | None:
        """The local rules of `config`; `grounding` is the use case's `knowledge.grounding` (None: no
        contextual grounding filter, as for a use case without `knowledge:`)."""
        if not config.enabled:
            return None

        def rules(action: str) -> tuple[tuple[str, Rule], ...]:
            return tuple(
                (entity, rule)
                for entity, wanted in config.pii.items()
                if wanted == action
                for rule in DEFAULT_RULES
                if rule.name == PII_RULES.get(entity)
            )

        return cls(
            prompt_attack=config.prompt_attack != "NONE",
            blocked_words=tuple(config.blocked_words),
            block_pii=rules("BLOCK"),
            mask_pii=rules("ANONYMIZE"),
            blocked_input_message=config.blocked_input_message,
            blocked_output_message=config.blocked_output_message,
            content_filters=any(f.input != "NONE" or f.output != "NONE" for f in config.content_filters.values())
            or config.prompt_attack != "NONE",
            denied_topics=bool(config.denied_topics),
            managed_words=config.managed_profanity,
            pii_entities=bool(config.pii),
            regexes=bool(config.regexes),
            grounding=grounding if grounding is not None and grounding.enabled else None,
        )

    @classmethod
    def for_use_case(cls, config) -> GuardrailRules | None:
        """The local rules of a use case's config (UseCaseConfig): its guardrail, and its knowledge base's
        grounding filter when it has one."""
        return cls.from_config(config.guardrail, config.knowledge.grounding if config.knowledge else None)

    def _blocked_word(self, text: str) -> str | None:
        return next((w for w in self.blocked_words if re.search(rf"\b{re.escape(w)}\b", text, re.I)), None)

    def check_input(self, text: str) -> Verdict:
        if self.prompt_attack and PROMPT_ATTACK.search(text):
            attack = {"type": "PROMPT_ATTACK", "confidence": "HIGH", "filterStrength": "HIGH", "action": "BLOCKED"}
            return Verdict("BLOCKED", self.blocked_input_message, {"contentPolicy": {"filters": [attack]}})
        word = self._blocked_word(text)
        if word:
            words = {"customWords": [{"match": word, "action": "BLOCKED"}], "managedWordLists": []}
            return Verdict("BLOCKED", self.blocked_input_message, {"wordPolicy": words})
        for entity, rule in self.block_pii:
            found = rule.pattern.search(text)
            if found and rule.apply(text) != text:
                return Verdict("BLOCKED", self.blocked_input_message, _pii(entity, found.group(0), "BLOCKED"))
        return Verdict("NONE", text)

    def check_output(self, text: str) -> Verdict:
        word = self._blocked_word(text)
        if word:
            words = {"customWords": [{"match": word, "action": "BLOCKED"}], "managedWordLists": []}
            return Verdict("BLOCKED", self.blocked_output_message, {"wordPolicy": words})
        masked, entities = text, []
        for entity, rule in self.mask_pii:
            replaced = rule.apply(masked).replace(f"[{rule.name}]", f"{{{entity}}}")
            if replaced != masked:
                entities.append({"match": "", "type": entity, "action": "ANONYMIZED"})
                masked = replaced
        if entities:
            return Verdict(
                "ANONYMIZED", masked, {"sensitiveInformationPolicy": {"piiEntities": entities, "regexes": []}}
            )
        return Verdict("NONE", text)

    def check_grounding(self, output: str, sources: list[str], query: str) -> Verdict:
        """The contextual grounding filter on `output` against the grounding sources and the query: both
        scores in the trace; BLOCKED (the blocked-output message) when one is below its threshold and the
        action is BLOCK, else NONE with `detected` saying whether it would have."""
        config = self.grounding
        if config is None:
            return Verdict("NONE", output)
        grounding, relevance = grounding_scores(answer_text(output), sources, query)
        filters = []
        for kind, score, threshold in (
            ("GROUNDING", grounding, config.grounding_threshold),
            ("RELEVANCE", relevance, config.relevance_threshold),
        ):
            below = score < threshold
            action = "BLOCKED" if below and config.action == "BLOCK" else "NONE"
            filters.append({"type": kind, "threshold": threshold, "score": score, "action": action, "detected": below})
        assessment = {"contextualGroundingPolicy": {"filters": filters}}
        if any(f["action"] == "BLOCKED" for f in filters):
            return Verdict("BLOCKED", self.blocked_output_message, assessment)
        return Verdict("NONE", output, assessment)
