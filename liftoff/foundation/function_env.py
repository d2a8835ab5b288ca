"""The invoke function's environment, built in one place from the use-case config.

The CDK construct (stacks/constructs/invoke_function.py) and local mode (liftoff/local/runtime.py)
both call `invoke_environment`; only the resource names differ (CloudFormation tokens there, local
table names here), plus the few knobs local mode turns on purpose. `service.settings.Settings` is
the one reader; tests/unit/test_function_env.py checks that it reads every variable set here and
that nothing it reads is missing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from liftoff.foundation.config import STAGES
from liftoff.foundation.pricing import (
    guardrail_prices_env_value,
    prices_env_value,
    retrieval_prices_env_value,
    structured_output_env_value,
)
from liftoff.foundation.usecases import UseCase

# Read by Powertools itself (service name on logs, metric namespace, log level); every function gets them.
POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "liftoff",
    "POWERTOOLS_METRICS_NAMESPACE": "Liftoff",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


# How long the spend cap may use an environment's own reading of today's spend instead of reading the
# counter (service.logic.invoke). Longer: fewer reads at low traffic, a larger margin below the cap.
SPEND_READING_MAX_AGE_S = 5.0


def spend_unseen_requests(use_case: UseCase, reading_max_age_s: float = SPEND_READING_MAX_AGE_S) -> int:
    """The most requests other environments can finish (and add to the counter) while one environment's
    reading ages: API Gateway admits at most burst + rate x time, and a request that finishes in the
    window started at most a function timeout before it."""
    cfg = use_case.config
    window_s = reading_max_age_s + cfg.lambda_timeout_seconds
    return math.ceil(cfg.api.throttle_burst + cfg.api.throttle_rate_per_s * window_s)


def capture_sample_rate(use_case: UseCase, stage: str) -> float:
    rate = use_case.config.capture.sample_rate
    return rate if rate is not None else (STAGES[stage].capture_sample_rate if stage in STAGES else 1.0)


def feedback_key_environment(use_case: UseCase, resources: FunctionResources) -> dict[str, str]:
    """What the invoke (signs tokens) and the feedback function (verifies them, stores ratings) both read."""
    return {
        "LIFTOFF_FEEDBACK_SECRET": resources.feedback_secret,
        "LIFTOFF_CAPTURE_TABLE": resources.capture_table,
        "LIFTOFF_CAPTURE_TTL_DAYS": str(use_case.config.capture.ttl_days),
    }


def feedback_environment(use_case: UseCase, *, stage: str, resources: FunctionResources) -> dict[str, str]:
    """Every variable the feedback function reads (service/handlers/feedback.py)."""
    return {
        "LIFTOFF_USE_CASE": use_case.config.name,
        "LIFTOFF_STAGE": stage,
        **feedback_key_environment(use_case, resources),
        "LIFTOFF_REDACT_PATTERNS": json.dumps(use_case.config.logging.redact_patterns),
        **POWERTOOLS_ENVIRONMENT,
    }


@dataclass(frozen=True)
class FunctionResources:
    """What the function is pointed at: names (or CloudFormation tokens) of its tables and guardrail."""

    prompts_table: str
    spend_table: str
    idempotency_table: str
    capture_table: str
    feedback_secret: str  # the secret's ARN (or name) holding the feedback-token key
    guardrail: tuple[str, str] | None  # (identifier, version)
    # model id -> the application inference profile the function calls it through (cost attribution by tag)
    model_profiles: str  # JSON object, as a string (CloudFormation tokens resolve inside it)
    knowledge_base_id: str | None = None  # the use case's knowledge base (use cases with `knowledge:`)


def knowledge_environment(use_case: UseCase, knowledge_base_id: str) -> dict[str, str]:
    """What the invoke function reads of the use case's knowledge base (service.settings.KnowledgeSettings):
    its id, the defaults of a prompt's top_k and min_score, the grounding check's action (set only when the
    check is on), one Retrieve's prices, the documents' prefix and Retrieve's timeouts and attempts."""
    knowledge = use_case.config.knowledge
    env = {
        "LIFTOFF_KNOWLEDGE_BASE_ID": knowledge_base_id,
        "LIFTOFF_RETRIEVAL_TOP_K": str(knowledge.top_k),
        "LIFTOFF_RETRIEVAL_MIN_SCORE": str(knowledge.min_score),
        "LIFTOFF_RETRIEVAL_PRICES": retrieval_prices_env_value(knowledge.embedding.model_id),
        "LIFTOFF_KNOWLEDGE_PREFIX": knowledge.documents.prefix,
        "LIFTOFF_RETRIEVE_CONNECT_TIMEOUT_S": str(knowledge.connect_timeout_seconds),
        "LIFTOFF_RETRIEVE_READ_TIMEOUT_S": str(knowledge.timeout_seconds),
        "LIFTOFF_RETRIEVE_MAX_ATTEMPTS": str(knowledge.max_attempts),
    }
    if knowledge.grounding.enabled and use_case.config.guardrail.enabled:
        env["LIFTOFF_GROUNDING"] = knowledge.grounding.action
    return env


def invoke_environment(
    use_case: UseCase,
    *,
    stage: str,
    resources: FunctionResources,
    daily_cap_usd: float | None = None,
    prompt_cache_ttl_s: float | None = None,
    model_read_timeout_s: float | None = None,
    spend_reading_max_age_s: float | None = None,
) -> dict[str, str]:
    """Every variable `Settings.from_env` reads, from the config. The keyword overrides exist for
    local mode (a lower cap to see it work, a short cache, a short model timeout, a short-lived spend
    reading); a deployment passes none."""
    cfg = use_case.config
    models = cfg.models
    reading_age = SPEND_READING_MAX_AGE_S if spend_reading_max_age_s is None else spend_reading_max_age_s
    env = {
        "LIFTOFF_USE_CASE": cfg.name,
        "LIFTOFF_STAGE": stage,
        "LIFTOFF_PROMPTS_TABLE": resources.prompts_table,
        "LIFTOFF_ALLOWED_MODEL_IDS": ",".join(models.allowed),
        "LIFTOFF_MODEL_PROFILES": resources.model_profiles,
        "LIFTOFF_MODEL_PRICES": prices_env_value(use_case.prices),
        "LIFTOFF_GUARDRAIL_PRICES": guardrail_prices_env_value(),
        "LIFTOFF_STRUCTURED_OUTPUT": structured_output_env_value(list(models.allowed)),
        "LIFTOFF_SPEND_TABLE": resources.spend_table,
        "LIFTOFF_IDEMPOTENCY_TABLE": resources.idempotency_table,
        "LIFTOFF_IDEMPOTENCY_TTL_S": str(cfg.api.idempotency_ttl_seconds),
        "LIFTOFF_DAILY_CAP_USD": str(cfg.budget.daily_cap_usd if daily_cap_usd is None else daily_cap_usd),
        "LIFTOFF_SPEND_READING_MAX_AGE_S": str(reading_age),
        "LIFTOFF_SPEND_UNSEEN_REQUESTS": str(spend_unseen_requests(use_case, reading_age)),
        "LIFTOFF_MAX_COST_PER_REQUEST_USD": str(cfg.exit_criteria.max_cost_per_request_usd),
        "LIFTOFF_LOG_PROMPTS": str(cfg.logging.log_prompts).lower(),
        "LIFTOFF_REDACT_PATTERNS": json.dumps(cfg.logging.redact_patterns),
        "LIFTOFF_DEFAULT_ALIAS": cfg.prompts.default_alias,
        "LIFTOFF_PROMPT_CACHE_TTL_S": str(
            cfg.prompts.cache_ttl_seconds if prompt_cache_ttl_s is None else prompt_cache_ttl_s
        ),
        "LIFTOFF_MAX_BODY_BYTES": str(cfg.api.max_body_bytes),
        "LIFTOFF_BEDROCK_CONNECT_TIMEOUT_S": str(models.connect_timeout_seconds),
        "LIFTOFF_BEDROCK_READ_TIMEOUT_S": str(
            models.timeout_seconds if model_read_timeout_s is None else model_read_timeout_s
        ),
        "LIFTOFF_BEDROCK_MAX_ATTEMPTS": str(models.max_attempts),
        "LIFTOFF_TRACING": cfg.observability.tracing,
        **feedback_key_environment(use_case, resources),
        "LIFTOFF_CAPTURE_ENABLED": str(cfg.capture.enabled).lower(),
        "LIFTOFF_CAPTURE_SAMPLE_RATE": str(capture_sample_rate(use_case, stage)),
        **POWERTOOLS_ENVIRONMENT,
    }
    if models.fallback:
        env["LIFTOFF_FALLBACK_MODEL_ID"] = models.fallback
    if resources.guardrail:
        env["LIFTOFF_GUARDRAIL_ID"], env["LIFTOFF_GUARDRAIL_VERSION"] = resources.guardrail
    if cfg.knowledge is not None and resources.knowledge_base_id:
        env.update(knowledge_environment(use_case, resources.knowledge_base_id))
    return env
