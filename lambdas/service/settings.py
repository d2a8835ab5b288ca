"""The one place the functions read their environment. Read lazily (never at import time) so
tests and local mode can set the environment first."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from service.logic.cost import ModelPrice, RetrievalPrice
from service.models.errors import Misconfigured


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise Misconfigured(f"environment variable {name} is not set")
    return value


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise Misconfigured(f"environment variable {name}={raw!r} is not a number") from exc


def _required_number(env: Mapping[str, str], name: str) -> float:
    _required(env, name)
    return _number(env, name, 0.0)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = _required(env, name)
    if value not in choices:
        raise Misconfigured(f"environment variable {name}={value!r} is not one of {', '.join(choices)}")
    return value


def _prices(env: Mapping[str, str]) -> dict[str, ModelPrice]:
    raw = _required(env, "LIFTOFF_MODEL_PRICES")
    try:
        return {model: ModelPrice(**fields) for model, fields in json.loads(raw).items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise Misconfigured(f"environment variable LIFTOFF_MODEL_PRICES is not a price table: {exc}") from exc


def _json_object(env: Mapping[str, str], name: str) -> dict[str, str]:
    raw = _required(env, name)
    try:
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise TypeError("not an object")
    except (ValueError, TypeError) as exc:
        raise Misconfigured(f"environment variable {name} is not a JSON object: {exc}") from exc
    return value


def _guardrail_prices(env: Mapping[str, str]) -> dict[str, float]:
    raw = _required(env, "LIFTOFF_GUARDRAIL_PRICES")
    try:
        prices = {policy: float(usd) for policy, usd in json.loads(raw).items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise Misconfigured(f"environment variable LIFTOFF_GUARDRAIL_PRICES is not a price table: {exc}") from exc
    return prices


def _profiles(env: Mapping[str, str]) -> dict[str, str]:
    profiles = _json_object(env, "LIFTOFF_MODEL_PROFILES")
    if not all(isinstance(arn, str) and arn for arn in profiles.values()):
        raise Misconfigured("environment variable LIFTOFF_MODEL_PROFILES is not a model->ARN object")
    return profiles


def _patterns(env: Mapping[str, str]) -> dict[str, str]:
    raw = env.get("LIFTOFF_REDACT_PATTERNS", "")
    if not raw:
        return {}
    try:
        patterns = json.loads(raw)
        if not isinstance(patterns, dict):
            raise TypeError("not an object")
        for pattern in patterns.values():
            re.compile(pattern)
    except (ValueError, TypeError, re.error) as exc:
        raise Misconfigured(f"environment variable LIFTOFF_REDACT_PATTERNS is not a name->regex object: {exc}") from exc
    return patterns


def _guardrail(env: Mapping[str, str]) -> tuple[str, str] | None:
    identifier = env.get("LIFTOFF_GUARDRAIL_ID", "").strip()
    if not identifier:
        return None
    return identifier, _required(env, "LIFTOFF_GUARDRAIL_VERSION")


GROUNDING_ACTIONS = ("BLOCK", "NONE")


@dataclass(frozen=True)
class KnowledgeSettings:
    """The use case's knowledge base (`knowledge:` in its config): where prompts with `retrieval:` retrieve
    from, the defaults of their top_k and min_score, the grounding check's action (None: no check), the
    prices of a Retrieve, the documents' prefix (a passage's source is its file relative to it), and
    Retrieve's timeouts and attempts."""

    knowledge_base_id: str
    top_k: int
    min_score: float
    price: RetrievalPrice
    grounding: str | None = None
    documents_prefix: str = ""
    # Retrieve's own timeouts and attempts (knowledge.* in the config): retrieval and the model share the 29 s
    connect_timeout_s: float = field(kw_only=True)
    read_timeout_s: float = field(kw_only=True)
    max_attempts: int = field(kw_only=True)


def _knowledge(env: Mapping[str, str]) -> KnowledgeSettings | None:
    knowledge_base_id = env.get("LIFTOFF_KNOWLEDGE_BASE_ID", "").strip()
    if not knowledge_base_id:
        return None
    prices = _json_object(env, "LIFTOFF_RETRIEVAL_PRICES")
    try:
        price = RetrievalPrice(**{k: float(v) for k, v in prices.items()})
    except (TypeError, ValueError) as exc:
        raise Misconfigured(f"environment variable LIFTOFF_RETRIEVAL_PRICES is not a retrieval price: {exc}") from exc
    grounding = env.get("LIFTOFF_GROUNDING", "").strip() or None
    if grounding is not None and grounding not in GROUNDING_ACTIONS:
        raise Misconfigured(f"environment variable LIFTOFF_GROUNDING={grounding!r} is not one of BLOCK, NONE")
    top_k = int(_required_number(env, "LIFTOFF_RETRIEVAL_TOP_K"))
    min_score = _required_number(env, "LIFTOFF_RETRIEVAL_MIN_SCORE")
    if not 1 <= top_k <= 100 or not 0 <= min_score <= 1:
        raise Misconfigured("LIFTOFF_RETRIEVAL_TOP_K must be 1-100 and LIFTOFF_RETRIEVAL_MIN_SCORE 0-1")
    return KnowledgeSettings(
        knowledge_base_id=knowledge_base_id,
        top_k=top_k,
        min_score=min_score,
        price=price,
        grounding=grounding,
        documents_prefix=env.get("LIFTOFF_KNOWLEDGE_PREFIX", ""),
        connect_timeout_s=_required_number(env, "LIFTOFF_RETRIEVE_CONNECT_TIMEOUT_S"),
        read_timeout_s=_required_number(env, "LIFTOFF_RETRIEVE_READ_TIMEOUT_S"),
        max_attempts=int(_required_number(env, "LIFTOFF_RETRIEVE_MAX_ATTEMPTS")),
    )


@dataclass(frozen=True)
class Settings:
    """Runtime settings of the invoke function (set by the CDK construct, or by local mode)."""

    use_case: str
    stage: str
    prompts_table: str
    allowed_model_ids: tuple[str, ...]
    model_prices: dict[str, ModelPrice]
    spend_table: str
    daily_cap_usd: float
    # The spend cap's in-process reading (service.logic.invoke): how long it stays usable, how many requests
    # other environments can finish meanwhile, and the exit criterion's cost per request (the least a request
    # is assumed to cost when the environment has seen none dearer)
    spend_reading_max_age_s: float = 0.0
    spend_unseen_requests: int = 0
    max_cost_per_request_usd: float = 0.0
    # model id -> application inference profile ARN the call goes through (tagged: cost by use case)
    model_profiles: dict[str, str] = field(default_factory=dict)
    # model id -> how it is held to a JSON schema: native, tool or none (pricing/bedrock.yaml)
    structured_output: dict[str, str] = field(default_factory=dict)
    # guardrail policy -> USD per text unit (pricing/bedrock.yaml `guardrails`)
    guardrail_prices: dict[str, float] = field(default_factory=dict)
    log_prompts: bool = False
    redact_patterns: dict[str, str] = field(default_factory=dict)
    guardrail: tuple[str, str] | None = None  # (identifier, version) of the use case's guardrail
    fallback_model_id: str | None = None  # called when the prompt's model throttles, fails or times out
    idempotency_table: str | None = None  # Idempotency-Key records (None: the header is ignored)
    idempotency_ttl_s: int = 3600
    default_alias: str = "live"
    prompt_cache_ttl_s: float = 60.0
    max_body_bytes: int = 65_536
    bedrock_connect_timeout_s: float = 1.0
    bedrock_read_timeout_s: float = 6.0
    bedrock_max_attempts: int = 3
    tracing: str = "active"  # active | sdk | off (service.observability)
    # Feedback and capture (capture.* in the use-case config): the key that signs feedback tokens (a Secrets
    # Manager secret id), the capture table, whether invoke captures, which share, for how long
    feedback_secret: str = ""
    capture_table: str = ""
    capture_enabled: bool = False
    capture_sample_rate: float = 0.0
    capture_ttl_days: int = 30
    knowledge: KnowledgeSettings | None = None  # None: the use case has no knowledge base

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        allowed = tuple(m.strip() for m in _required(env, "LIFTOFF_ALLOWED_MODEL_IDS").split(",") if m.strip())
        return cls(
            use_case=_required(env, "LIFTOFF_USE_CASE"),
            stage=_required(env, "LIFTOFF_STAGE"),
            prompts_table=_required(env, "LIFTOFF_PROMPTS_TABLE"),
            allowed_model_ids=allowed,
            model_prices=_prices(env),
            model_profiles=_profiles(env),
            guardrail_prices=_guardrail_prices(env),
            structured_output=_json_object(env, "LIFTOFF_STRUCTURED_OUTPUT"),
            spend_table=_required(env, "LIFTOFF_SPEND_TABLE"),
            daily_cap_usd=_required_number(env, "LIFTOFF_DAILY_CAP_USD"),
            spend_reading_max_age_s=_required_number(env, "LIFTOFF_SPEND_READING_MAX_AGE_S"),
            spend_unseen_requests=int(_required_number(env, "LIFTOFF_SPEND_UNSEEN_REQUESTS")),
            max_cost_per_request_usd=_required_number(env, "LIFTOFF_MAX_COST_PER_REQUEST_USD"),
            log_prompts=env.get("LIFTOFF_LOG_PROMPTS", "false").lower() == "true",
            redact_patterns=_patterns(env),
            guardrail=_guardrail(env),
            fallback_model_id=env.get("LIFTOFF_FALLBACK_MODEL_ID") or None,
            idempotency_table=env.get("LIFTOFF_IDEMPOTENCY_TABLE", "").strip() or None,
            idempotency_ttl_s=int(_number(env, "LIFTOFF_IDEMPOTENCY_TTL_S", 3600)),
            default_alias=env.get("LIFTOFF_DEFAULT_ALIAS", "live"),
            prompt_cache_ttl_s=_number(env, "LIFTOFF_PROMPT_CACHE_TTL_S", 60.0),
            max_body_bytes=int(_number(env, "LIFTOFF_MAX_BODY_BYTES", 65_536)),
            bedrock_connect_timeout_s=_number(env, "LIFTOFF_BEDROCK_CONNECT_TIMEOUT_S", 1.0),
            bedrock_read_timeout_s=_number(env, "LIFTOFF_BEDROCK_READ_TIMEOUT_S", 6.0),
            bedrock_max_attempts=int(_number(env, "LIFTOFF_BEDROCK_MAX_ATTEMPTS", 3)),
            tracing=_choice(env, "LIFTOFF_TRACING", ("active", "sdk", "off")),
            feedback_secret=_required(env, "LIFTOFF_FEEDBACK_SECRET"),
            capture_table=_required(env, "LIFTOFF_CAPTURE_TABLE"),
            capture_enabled=env.get("LIFTOFF_CAPTURE_ENABLED", "false").lower() == "true",
            capture_sample_rate=_number(env, "LIFTOFF_CAPTURE_SAMPLE_RATE", 0.0),
            capture_ttl_days=int(_required_number(env, "LIFTOFF_CAPTURE_TTL_DAYS")),
            knowledge=_knowledge(env),
        )


@dataclass(frozen=True)
class FeedbackSettings:
    """Runtime settings of the feedback function (liftoff/foundation/function_env.py::feedback_environment)."""

    use_case: str
    stage: str
    feedback_secret: str
    capture_table: str
    capture_ttl_days: int
    redact_patterns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FeedbackSettings:
        env = os.environ if env is None else env
        return cls(
            use_case=_required(env, "LIFTOFF_USE_CASE"),
            stage=_required(env, "LIFTOFF_STAGE"),
            feedback_secret=_required(env, "LIFTOFF_FEEDBACK_SECRET"),
            capture_table=_required(env, "LIFTOFF_CAPTURE_TABLE"),
            capture_ttl_days=int(_required_number(env, "LIFTOFF_CAPTURE_TTL_DAYS")),
            redact_patterns=_patterns(env),
        )


@dataclass(frozen=True)
class RollbackSettings:
    """Runtime settings of the canary rollback function (stacks/constructs/golden_canary.py)."""

    use_case: str
    prompts_table: str
    alarm_topic_arn: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RollbackSettings:
        env = os.environ if env is None else env
        return cls(
            use_case=_required(env, "LIFTOFF_USE_CASE"),
            prompts_table=_required(env, "LIFTOFF_PROMPTS_TABLE"),
            alarm_topic_arn=env.get("LIFTOFF_ALARM_TOPIC_ARN") or None,
        )


@lru_cache(maxsize=1)
def get_feedback_settings() -> FeedbackSettings:
    return FeedbackSettings.from_env()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
