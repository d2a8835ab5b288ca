"""Use-case configuration (`usecases/<name>.yaml`) and stage settings, validated by pydantic.

One source of truth per use case: the stacks, the local mode and the tooling all read it through
`load_use_case`. A mistake fails synth with the file and the field named.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

from liftoff import REPO_ROOT
from liftoff.foundation.errors import ConfigError
from service.dal.deadline import RESERVE_S
from service.models.regex import RegexPattern

USE_CASE_NAME = re.compile(r"\A[a-z][a-z0-9-]{1,38}[a-z0-9]\Z")  # \Z: `$` would let a trailing newline in
# A value that becomes a tag must fit every tagged resource; Bedrock's rule (Guardrail, inference
# profiles: botocore's bedrock TagValue shape) is the strictest of them. ASCII: `\s` is ASCII whitespace there.
TAG_VALUE = re.compile(r"[a-zA-Z0-9\s._:/=+@-]*", re.ASCII)
TAG_VALUE_MAX = 256
# the cost-allocation tags the monthly budget filters on (both must be activated in Billing)
USE_CASE_TAG, STAGE_TAG = "use-case", "stage"
REDACT_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
API_GATEWAY_MAX_TIMEOUT_S = 29  # REST API integration timeout (default quota)
LAMBDA_TIMEOUT_HEADROOM_S = RESERVE_S  # after the budgeted Bedrock calls: the spend ADD and the answer
BEDROCK_BUDGET_LIMIT_S = API_GATEWAY_MAX_TIMEOUT_S - LAMBDA_TIMEOUT_HEADROOM_S  # what the budgeted calls may take


class _Strict(BaseModel):
    # A docstring under a field is its description: the configuration reference (docs/) is generated from them.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def retry_backoff_bound_seconds(attempts: int) -> float:
    """The longest botocore's standard retry mode can wait between `attempts` attempts: before attempt
    i+1 at most min(1 s x 2**(i-1), 20 s) (the throttling scale; other errors wait 1/20 of that),
    see botocore.retries.standard.ExponentialBackoff."""
    return float(sum(min(2 ** (i - 1), 20) for i in range(1, attempts)))


def attempts_budget_seconds(attempts: int, connect_timeout_s: float, read_timeout_s: float) -> float:
    """The longest a call with botocore's standard retries can take: every attempt's connect and read
    timeouts, plus the longest backoff between them."""
    return attempts * (connect_timeout_s + read_timeout_s) + retry_backoff_bound_seconds(attempts)


def attempts_chain(attempts: int, connect_timeout_s: float, read_timeout_s: float) -> str:
    """attempts_budget_seconds as a config error spells it out, field by field."""
    return (
        f"max_attempts {attempts} x (connect_timeout_seconds {connect_timeout_s:g} + timeout_seconds "
        f"{read_timeout_s:g}) + retry backoff {retry_backoff_bound_seconds(attempts):g}"
    )


class ModelsConfig(_Strict):
    """Which Bedrock models the use case may call. IAM allows exactly these."""

    default: str
    """Model id (inference profile or foundation model) a new prompt uses; must be in `allowed`."""
    allowed: list[str] = Field(min_length=1)
    """Every model id a prompt may name. The function's IAM policy allows exactly these (and their profiles)."""
    profile_regions: dict[str, list[str]] = Field(default_factory=dict)
    """Destination Regions of cross-Region inference profiles, by profile prefix (`us.`, `eu.`...).
    Defaults live in stacks/bedrock_access.py; set this when a model's profile routes elsewhere."""
    timeout_seconds: float = Field(default=6.0, gt=0, le=25)
    """Per attempt: how long to wait for the model's answer (read timeout)."""
    connect_timeout_seconds: float = Field(default=1.0, gt=0, le=10)
    """Per attempt: how long to wait for a connection to Bedrock."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts in all (1 = no retry), as botocore's `total_max_attempts`."""
    fallback: str | None = None
    """Called when the prompt's model throttles, fails or times out (after its attempts); must be in `allowed`."""

    @model_validator(mode="after")
    def _default_is_allowed(self) -> ModelsConfig:
        if self.default not in self.allowed:
            raise ValueError(f"`default` ({self.default}) must be one of `allowed`")
        if self.fallback is not None and self.fallback not in self.allowed:
            raise ValueError(f"`fallback` ({self.fallback}) must be one of `allowed`")
        if self.model_budget_seconds > BEDROCK_BUDGET_LIMIT_S:
            chain = attempts_chain(self.max_attempts, self.connect_timeout_seconds, self.timeout_seconds) + (
                ", x 2 (fallback)" if self.fallback else ""
            )
            raise ValueError(
                f"{chain} = {self.model_budget_seconds:g}s exceeds the {BEDROCK_BUDGET_LIMIT_S}s the API can wait; "
                "lower one of them"
            )
        return self

    @property
    def attempt_budget_seconds(self) -> float:
        """The longest one model's attempts can take: each attempt's connect and read timeouts, plus the
        longest backoff between them."""
        return attempts_budget_seconds(self.max_attempts, self.connect_timeout_seconds, self.timeout_seconds)

    @property
    def model_budget_seconds(self) -> float:
        """The longest the model calls of one request can take: every attempt, then the fallback's."""
        return self.attempt_budget_seconds * (2 if self.fallback else 1)


class ExitCriteria(_Strict):
    """The measurable definition of done: the eval gate and the production alarms use these."""

    min_accuracy: float = Field(ge=0, le=1)
    """Share of eval cases that must pass (0-1): the eval gate."""
    p95_latency_ms: int = Field(gt=0)
    """95th percentile of request latency: an eval criterion and the `LatencyP95` alarm."""
    max_cost_per_request_usd: float = Field(gt=0)
    """Average cost per request (model tokens + guardrail units): an eval criterion and the `CostPerRequest` alarm."""
    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    """An eval run where more cases than this did not get an answer (after retries) cannot be judged."""
    max_invalid_output_rate: float = Field(default=0.01, ge=0, le=1)
    """Share of answers that break the prompt's output schema (after repairs): an eval criterion and an alarm."""
    max_ungrounded_rate: float | None = Field(default=None, ge=0, le=1)
    """Retrieval use cases (`knowledge:`) only: share of answered requests the guardrail's contextual grounding
    check finds ungrounded, the production hallucination rate: an eval criterion and the `UngroundedRate` alarm."""
    min_retrieval_recall: float | None = Field(default=None, ge=0, le=1)
    """Retrieval use cases only: recall@k of the eval cases that name `expected_sources` (0-1): an eval criterion."""
    max_hallucination_rate: float | None = Field(default=None, ge=0, le=1)
    """Retrieval use cases only: answers to unanswerable questions, ungrounded answers and answers judged
    unfaithful to their passages, per answered case (0-1): an eval criterion, measured by the golden canary too."""


class BudgetConfig(_Strict):
    """Money: an AWS Budget on the use case's cost tag and a hard daily cap enforced by the function."""

    monthly_usd: float = Field(gt=0)
    """AWS Budgets monthly limit; notifications at 80 % forecast and 100 % actual."""
    daily_cap_usd: float = Field(gt=0)
    """Hard cap on the model and guardrail spend of one UTC day; beyond it the API answers 429 `SpendCapReached`."""
    alert_emails: list[EmailStr] = Field(default_factory=list, max_length=10)
    """Who the budget and the alarm topic notify (Budgets allow 10 email subscribers per notification)."""


Strength = Literal["NONE", "LOW", "MEDIUM", "HIGH"]
GuardrailAction = Literal["BLOCK", "ANONYMIZE"]
CONTENT_CATEGORIES = ("SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT")


def pii_entity_types() -> tuple[str, ...]:
    """The PII entity types Bedrock Guardrails knows, from botocore's service model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return tuple(model.shape_for("GuardrailPiiEntityType").enum)


# Where each guardrail limit is defined in Bedrock's API (CreateGuardrail, which CloudFormation calls):
# (shape, member). Read from botocore's `bedrock` service model, so a limit is never written twice and
# follows the pinned botocore; tests check each against cfn-lint's CloudFormation schema too.
GUARDRAIL_LIMITS = {
    "topic_name": ("GuardrailTopicConfig", "name"),
    "topic_definition": ("GuardrailTopicConfig", "definition"),
    "topic_example": ("GuardrailTopicConfig", "examples", "member"),
    "topic_examples": ("GuardrailTopicConfig", "examples"),
    "topics": ("GuardrailTopicPolicyConfig", "topicsConfig"),
    "word": ("GuardrailWordConfig", "text"),
    "words": ("GuardrailWordPolicyConfig", "wordsConfig"),
    "regex_name": ("GuardrailRegexConfig", "name"),
    "regex_pattern": ("GuardrailRegexConfig", "pattern"),
    "regexes": ("GuardrailSensitiveInformationPolicyConfig", "regexesConfig"),
    "blocked_message": ("CreateGuardrailRequest", "blockedInputMessaging"),
}


@functools.cache
def guardrail_limit(name: str) -> int:
    """The largest length (or count) Bedrock accepts for `name` of GUARDRAIL_LIMITS."""
    import botocore.session

    shape_name, member, *rest = GUARDRAIL_LIMITS[name]
    shape = botocore.session.get_session().get_service_model("bedrock").shape_for(shape_name).members[member]
    if rest:
        shape = shape.member
    return int(shape.metadata["max"])


def _within(name: str, value: str | list) -> str | list:
    limit = guardrail_limit(name)
    if len(value) > limit:
        unit = "entries" if isinstance(value, list) else "characters"
        raise ValueError(f"{len(value)} {unit}; Bedrock Guardrails allow at most {limit}")
    return value


def _limited(name: str):
    """A field validator: the value's length within Bedrock's limit for `name`."""
    return AfterValidator(lambda value: _within(name, value))


class ContentFilter(_Strict):
    """Strength of one content filter category."""

    input: Strength = "HIGH"
    """Filter strength on the request."""
    output: Strength = "HIGH"
    """Filter strength on the model's answer."""


class DeniedTopic(_Strict):
    """A topic the guardrail refuses, in input and output."""

    name: Annotated[str, _limited("topic_name")] = Field(pattern=r"^[0-9A-Za-z-_ !?.]+$")
    """Short name of the topic."""
    definition: Annotated[str, _limited("topic_definition")] = Field(min_length=1)
    """What the topic covers, in a sentence (Bedrock classifies against it)."""
    examples: Annotated[
        list[Annotated[str, _limited("topic_example"), Field(min_length=1)]], _limited("topic_examples")
    ] = Field(default_factory=list)
    """Example phrases that belong to the topic."""


class GuardrailRegex(_Strict):
    """A custom sensitive-information pattern of the guardrail."""

    name: Annotated[str, _limited("regex_name")] = Field(min_length=1)
    """Name shown in the guardrail's trace and used as the mask."""
    pattern: Annotated[RegexPattern, _limited("regex_pattern")]
    """The regular expression."""
    action: GuardrailAction = "ANONYMIZE"
    """`ANONYMIZE` masks the match, `BLOCK` refuses the text."""


class GuardrailConfig(_Strict):
    """Amazon Bedrock Guardrail applied to every Converse call. `enabled` must be written out:
    turning the guardrail off is a decision, not a default."""

    enabled: bool
    """Whether a guardrail is created and attached to every Converse call (required: off is a decision)."""
    content_filters: dict[Literal["SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT"], ContentFilter] = Field(
        default_factory=lambda: {c: ContentFilter() for c in CONTENT_CATEGORIES}
    )
    """Content filter strengths by category; every category defaults to HIGH both ways."""
    prompt_attack: Strength = "HIGH"
    """Prompt-attack (jailbreak, injection) filter strength; input only: Bedrock evaluates it on input."""
    denied_topics: Annotated[list[DeniedTopic], _limited("topics")] = Field(default_factory=list)
    """Topics the guardrail refuses."""
    blocked_words: Annotated[list[Annotated[str, _limited("word"), Field(min_length=1)]], _limited("words")] = Field(
        default_factory=list
    )
    """Words or phrases refused in input and output."""
    managed_profanity: bool = True
    """AWS's managed profanity word list."""
    pii: dict[str, GuardrailAction] = Field(default_factory=dict)
    """PII entity type (`EMAIL`, `CREDIT_DEBIT_CARD_NUMBER`...) -> `ANONYMIZE` or `BLOCK`; types checked against Bedrock's list."""
    regexes: Annotated[list[GuardrailRegex], _limited("regexes")] = Field(default_factory=list)
    """Custom sensitive-information patterns."""
    blocked_input_message: Annotated[str, _limited("blocked_message")] = Field(
        default="This request was blocked by the content policy.", min_length=1
    )
    """What the caller reads when the guardrail blocks the request."""
    blocked_output_message: Annotated[str, _limited("blocked_message")] = Field(
        default="The answer was withheld by the content policy.", min_length=1
    )
    """What the caller reads when the guardrail blocks the answer."""

    @model_validator(mode="after")
    def _known_pii(self) -> GuardrailConfig:
        known = pii_entity_types()
        unknown = sorted(set(self.pii) - set(known))
        if unknown:
            raise ValueError(f"pii: unknown entity type(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return self


class ApiConfig(_Strict):
    """The API Gateway front door."""

    auth: Literal["api_key", "iam", "cognito"] = "api_key"
    """How callers authenticate: an API key with a usage plan, SigV4 (IAM), or a Cognito user pool."""
    throttle_rate_per_s: float = Field(default=10, gt=0)
    """Steady requests per second the stage (and usage plan) allows."""
    throttle_burst: int = Field(default=20, gt=0)
    """Burst of requests above the rate before API Gateway answers 429."""
    quota_per_day: int = Field(default=10_000, gt=0)
    """Requests per API key per day (usage plan quota)."""
    max_body_bytes: int = Field(default=65_536, ge=1024, le=6_000_000)
    """Largest request body; a bigger one gets 413 `PayloadTooLarge`."""
    waf_rate_limit_per_5min: int = Field(default=2000, ge=10, le=2_000_000_000)
    """AWS WAF (stages with `waf`): requests per client IP per 5 minutes before WAF blocks it."""
    idempotency_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    """How long an answer is kept for a client retrying with the same Idempotency-Key."""


class LoggingConfig(_Strict):
    """What the function writes to CloudWatch Logs."""

    log_prompts: bool = False
    """Prompt and output text go to the logs only when this is true, with PII redacted first."""
    redact_patterns: dict[str, RegexPattern] = Field(default_factory=dict)
    """Extra redaction rules on top of EMAIL, CARD, IP, PHONE (lambdas/service/logic/redact.py): NAME -> regex,
    each match is logged as [NAME]."""

    @model_validator(mode="after")
    def _names_are_labels(self) -> LoggingConfig:
        for name in self.redact_patterns:
            if not REDACT_NAME.match(name):
                raise ValueError(f"redact_patterns: name `{name}` must be upper-case letters, digits and _")
        return self


class CapacityConfig(_Strict):
    """Load the use case is sized for. Needed concurrency = requests per second x seconds per request
    (Little's law); with the API's throttle rate and the p95 latency criterion that is
    `api.throttle_rate_per_s x exit_criteria.p95_latency_ms / 1000`."""

    reserved_concurrency: int | None = Field(default=None, ge=1, le=10_000)
    """Reserve this many concurrent executions for the invoke function (null: share the account pool).
    A reservation also caps the function."""
    memory_mb: int | None = Field(default=None, ge=128, le=10_240)
    """The invoke function's memory (null: the smallest 64 MB step with 50 % headroom over the peak RSS
    `make bench` measured, benchmarks/memory.json). More memory also means more CPU: a faster cold start."""
    snapstart: bool = False
    """Lambda SnapStart for the invoke function: Lambda initializes it when a version is published and
    resumes new environments from that snapshot; API Gateway then calls the function's alias `current`,
    which points at the published version. Caching and each restore are billed, and it excludes
    provisioned concurrency, EFS and more than 512 MB of ephemeral storage (docs/resilience.md#snapstart)."""


class CaptureConfig(_Strict):
    """Opt-in capture of real requests, the raw material of new eval cases (`liftoff eval harvest`). Ratings
    (POST /v1/feedback) are stored whether capture is on or not."""

    enabled: bool = False
    """Store each sampled request's prompt id and version, model, variables and output (after PII
    redaction), cost and latency in the capture table."""
    sample_rate: float | None = Field(default=None, ge=0, le=1)
    """Share of requests captured (null: the stage's default, 1.0 in sandbox and 0.1 in prod)."""
    ttl_days: int = Field(default=30, ge=1, le=365)
    """How long captures and ratings are kept (the table's TTL) and how long a feedback token is valid."""
    alarm_min_ratings: int = Field(default=20, ge=1)
    """The `FeedbackBadRate` alarm judges a day only when it has at least this many ratings."""


SCHEDULE = re.compile(r"^(off|rate\(([1-9]\d*) (minute|minutes|hour|hours|day|days)\))$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}
# The golden canary's accuracy alarm looks at this many runs (stacks/constructs/monitoring.py), and
# CloudWatch evaluates at most 7 days: periods x period <= 604,800 s (PutMetricAlarm, Period).
CANARY_ALARM_PERIODS = 2
ALARM_MAX_EVALUATION_S = 604_800


def schedule_seconds(expression: str) -> int | None:
    """Seconds between runs of a `rate(N unit)` schedule; None for `off`."""
    found = SCHEDULE.match(expression)
    if found is None or found.group(1) == "off":
        return None
    unit = found.group(3).rstrip("s")
    return int(found.group(2)) * UNIT_SECONDS[unit]


def _valid_schedule(expression: str | None) -> str | None:
    """What EventBridge Scheduler's rate() grammar accepts (a positive value; a singular unit for 1, a plural
    one above: `rate(1 hour)`, `rate(5 hours)`), run at most hourly, and an accuracy alarm CloudWatch can
    evaluate."""
    if expression is None:
        return None
    found = SCHEDULE.match(expression)
    if not found:
        raise ValueError(f"`{expression}` is not `off` or `rate(N minutes|hours|days)`")
    if found.group(1) == "off":
        return expression
    value, unit = int(found.group(2)), found.group(3)
    if (value == 1) != (not unit.endswith("s")):
        fixed = f"rate({value} {unit.rstrip('s') if value == 1 else unit + 's'})"
        raise ValueError(
            f"`{expression}`: EventBridge Scheduler wants a singular unit for 1 and a plural one above; write `{fixed}`"
        )
    seconds = value * UNIT_SECONDS[unit.rstrip("s")]
    if seconds < 3600:
        raise ValueError("run the golden canary at most hourly: each run is a few dozen billed model calls")
    if CANARY_ALARM_PERIODS * seconds > ALARM_MAX_EVALUATION_S:
        raise ValueError(
            f"`{expression}`: the CanaryAccuracy alarm looks at {CANARY_ALARM_PERIODS} runs, and CloudWatch evaluates "
            f"at most {ALARM_MAX_EVALUATION_S:,} s (7 days): {CANARY_ALARM_PERIODS} x {seconds:,} s is more; run it at "
            f"least every {ALARM_MAX_EVALUATION_S // CANARY_ALARM_PERIODS // 3600} hours"
        )
    return expression


class GoldenCanaryConfig(_Strict):
    """The scheduled golden canary: the golden cases of the eval set (suite.yaml `golden`) against the
    deployed stage, scored like `liftoff eval`, alarmed on `exit_criteria.min_accuracy`."""

    schedule: Annotated[str | None, AfterValidator(_valid_schedule)] = None
    """`rate(1 hour)`, `rate(1 day)`... or `off` (null: the stage's default, hourly in prod, daily in sandbox).
    At least hourly and at most every 3.5 days (the accuracy alarm's two runs must fit CloudWatch's 7 days)."""
    concurrency: int = Field(default=4, ge=1, le=10)
    """Golden cases run at the same time. A run must end inside the function's 15 minutes even when every
    model call times out; synth checks that arithmetic (liftoff/foundation/canary.py) and names this field."""


class MonitoringConfig(_Strict):
    """What watches the use case after launch, beyond the request path's metrics."""

    canary: GoldenCanaryConfig = Field(default_factory=GoldenCanaryConfig)
    """The golden canary."""


class ObservabilityConfig(_Strict):
    """Tracing of the invoke function (logs and metrics are always on)."""

    tracing: Literal["active", "sdk", "off"] = "active"
    """`active`: Lambda's and API Gateway's X-Ray tracing, without the X-Ray SDK in the function (the fast cold
    start); `sdk`: also Powertools' Tracer (subsegments per handler, boto3 calls traced; the AWS X-Ray SDK, in
    maintenance mode since 2026-02-25); `off`: no tracing."""


class SecurityConfig(_Strict):
    """Identity and encryption choices that organisations often impose."""

    permissions_boundary_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:policy/.+$")
    """Use this existing managed policy as every role's permissions boundary instead of the template's own."""
    table_kms_key_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/.+$")
    """Encrypt the DynamoDB tables with this customer-managed KMS key instead of the AWS-managed one.
    Its key policy must let the account's IAM principals use it (the functions get kms: grants on it)."""


class PromptsConfig(_Strict):
    """How the function reads the prompt registry."""

    cache_ttl_seconds: float = Field(default=60, ge=0, le=3600)
    """How long an execution environment keeps a resolved prompt before reading the registry again
    (a promote or rollback reaches every environment within this time)."""
    default_alias: str = "live"
    """Alias served when a request names neither a version nor an alias."""


# A scaffolded charter's text fields hold `<...>` placeholders until the team writes its own; readiness
# and `liftoff charter agree` refuse a charter that still holds one.
PLACEHOLDER = re.compile(r"<[^<>]+>")


def _one_sentence(text: str) -> str:
    body = " ".join(text.split())
    if "\n" in text.strip() or re.search(r"[.!?]\s+\S", body):
        raise ValueError("the outcome is one sentence: what the use case achieves, for whom (no second sentence)")
    return body


class Charter(_Strict):
    """What was agreed before building: the one outcome, who owns it, the volume it is sized for, the
    phase and when it is reviewed. `liftoff charter agree` fingerprints the scoped fields (outcome, exit
    criteria, prompt ids, allowed models, API routes); `liftoff scope check` holds them to it."""

    owner: str = Field(min_length=1)
    """Who decides that the use case is done (a name or a team)."""
    stakeholders: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    """Who agreed the outcome and the exit criteria, and reads the readiness report."""
    outcome: Annotated[str, AfterValidator(_one_sentence)] = Field(min_length=10)
    """The one outcome, in one sentence: what changes for whom when the use case works."""
    expected_requests_per_day: int = Field(gt=0)
    """Requests a day expected in production: `liftoff cost project` and readiness project cost at it."""
    peak_requests_per_s: float = Field(gt=0)
    """The busiest rate expected (requests per second): readiness wants a load test at it (`liftoff load`)."""
    phase: Literal["poc", "pilot", "production"]
    """`poc` and `pilot`: a change to the scoped fields needs an amendment (`liftoff scope check`);
    `production`: changes go through the eval and promotion gates."""
    review_by: date
    """When the charter is reviewed again (YYYY-MM-DD); readiness is NO-GO once it has passed."""
    out_of_scope: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    """What the use case will not do, in the words agreed (a new workflow is a new charter or an amendment)."""
    traffic_by_utc_hour: list[Annotated[float, Field(ge=0)]] | None = Field(default=None, min_length=24, max_length=24)
    """Relative traffic in each UTC hour 0-23 (null: flat): when in the day the daily cap is reached."""
    min_production_like_share: float = Field(default=0.3, ge=0, le=1)
    """Readiness: the share of eval cases that must be production-like (tagged noisy, edge, adversarial or pii)."""

    @model_validator(mode="after")
    def _peak_covers_the_average(self) -> Charter:
        average = self.expected_requests_per_day / 86_400
        if self.peak_requests_per_s < average:
            raise ValueError(
                f"peak_requests_per_s {self.peak_requests_per_s:g} is below the average rate of "
                f"expected_requests_per_day ({average:.3g}/s)"
            )
        if self.traffic_by_utc_hour is not None and not sum(self.traffic_by_utc_hour) > 0:
            raise ValueError("traffic_by_utc_hour: at least one hour needs traffic")
        return self

    def placeholders(self) -> list[str]:
        """The fields that still hold a scaffold's `<...>` placeholder."""
        found = []
        for name in ("owner", "outcome", "stakeholders", "out_of_scope"):
            value = getattr(self, name)
            texts = value if isinstance(value, list) else [value]
            if any(PLACEHOLDER.search(text) for text in texts):
                found.append(f"charter.{name}")
        return found


def _tag_value(value: str) -> str:
    if not TAG_VALUE.fullmatch(value):
        bad = "".join(sorted({c for c in value if not TAG_VALUE.fullmatch(c)}))
        raise ValueError(
            f"`{value}` becomes a tag value, which may hold only letters, digits, spaces and . _ : / = + @ - "
            f"(Bedrock refuses {bad!r} at deploy): change those characters"
        )
    return value


# Titan Text Embeddings V2 takes 256, 512 or 1024 (its `dimensions` parameter); an S3 Vectors index 1-4096.
EMBEDDING_DIMENSIONS = {
    "amazon.titan-embed-text-v2:0": (256, 512, 1024),
    "cohere.embed-english-v3": (1024,),
    "cohere.embed-multilingual-v3": (1024,),
}
CHUNK_MAX_TOKENS = 8192  # Bedrock's limit on a chunk (FixedSizeChunkingConfiguration.maxTokens)


class KnowledgeDocuments(_Strict):
    """Where the knowledge base's documents come from."""

    path: str | None = None
    """A folder of the repository, uploaded at deploy to the stack's documents bucket (null: the default
    `knowledge/<use case>`, when it exists). Plain text, Markdown, HTML, PDF, Word, CSV: what Bedrock parses."""
    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    """An existing S3 bucket the documents are in, instead of or beside the repository's: the stack only reads it."""
    prefix: str = ""
    """The prefix of the documents in `bucket` (empty: the whole bucket)."""

    @model_validator(mode="after")
    def _prefix_needs_a_bucket(self) -> KnowledgeDocuments:
        if self.prefix and not self.bucket:
            raise ValueError("`prefix` is set but `bucket` is not: name the bucket the prefix is in")
        return self


class EmbeddingConfig(_Strict):
    """The model that embeds documents and questions."""

    model_id: str = "amazon.titan-embed-text-v2:0"
    """A Bedrock embedding model (foundation model id; knowledge bases take no inference profile here)."""
    dimension: int = 1024
    """The vectors' length: the S3 Vectors index is created with it (changing it replaces the index)."""

    @model_validator(mode="after")
    def _dimension_fits_the_model(self) -> EmbeddingConfig:
        allowed = EMBEDDING_DIMENSIONS.get(self.model_id)
        if allowed is None:
            raise ValueError(
                f"model_id `{self.model_id}` is not a supported embedding model ({', '.join(EMBEDDING_DIMENSIONS)})"
            )
        if self.dimension not in allowed:
            raise ValueError(
                f"dimension {self.dimension} is not one `{self.model_id}` produces ({', '.join(map(str, allowed))})"
            )
        return self


class ChunkingConfig(_Strict):
    """How documents are split into passages (set at creation: changing it replaces the data source and
    re-ingests)."""

    strategy: Literal["fixed_size", "semantic", "hierarchical"] = "fixed_size"
    """`fixed_size` (the default: predictable and cheapest), `semantic` (splits where the meaning changes; embeds
    every sentence at ingestion, so ingestion costs more) or `hierarchical` (small child chunks are searched, their
    larger parent is returned)."""
    max_tokens: int = Field(default=300, ge=20, le=CHUNK_MAX_TOKENS)
    """fixed_size and semantic: the largest chunk, in tokens."""
    overlap_percentage: int = Field(default=20, ge=1, le=99)
    """fixed_size: the share of a chunk repeated in the next."""
    buffer_size: int = Field(default=0, ge=0, le=1)
    """semantic: 0 compares sentences alone, 1 with the sentence before and after."""
    breakpoint_percentile_threshold: int = Field(default=95, ge=50, le=99)
    """semantic: adjacent sentences less similar than this percentile of pairs start a new chunk."""
    parent_max_tokens: int = Field(default=1500, ge=1, le=CHUNK_MAX_TOKENS)
    """hierarchical: the parent chunk returned to the model."""
    child_max_tokens: int = Field(default=300, ge=1, le=CHUNK_MAX_TOKENS)
    """hierarchical: the child chunk searched."""
    overlap_tokens: int = Field(default=60, ge=1)
    """hierarchical: tokens repeated between chunks of the same level."""

    @model_validator(mode="after")
    def _child_smaller_than_parent(self) -> ChunkingConfig:
        if self.strategy == "hierarchical" and self.child_max_tokens >= self.parent_max_tokens:
            raise ValueError(
                f"child_max_tokens {self.child_max_tokens} must be smaller than parent_max_tokens {self.parent_max_tokens}"
            )
        return self


class GroundingConfig(_Strict):
    """The guardrail's contextual grounding check of every answer against its passages."""

    enabled: bool = True
    """Check each answer (priced per text unit of source + question + answer); needs `guardrail.enabled`."""
    grounding_threshold: float = Field(default=0.75, ge=0, le=0.99)
    """An answer scoring below it is ungrounded (not supported by the passages)."""
    relevance_threshold: float = Field(default=0.5, ge=0, le=0.99)
    """An answer scoring below it does not answer the question."""
    action: Literal["BLOCK", "NONE"] = "BLOCK"
    """`BLOCK` refuses an ungrounded answer (422 `GuardrailIntervened` with the guardrail's blocked-output message);
    `NONE` measures only (the scores are in the response, the log line and the metrics)."""


class KnowledgeConfig(_Strict):
    """A knowledge base the use case's prompts retrieve from (Bedrock Knowledge Bases on S3 Vectors)."""

    documents: KnowledgeDocuments = Field(default_factory=KnowledgeDocuments)
    """The documents: a repository folder, an existing bucket, or both."""
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    """The embedding model and the vectors' dimension."""
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    """How documents are split into passages."""
    top_k: int = Field(default=5, ge=1, le=100)
    """Passages retrieved per question (a prompt's `retrieval.top_k` overrides it)."""
    min_score: float = Field(default=0.4, ge=0, le=1)
    """A passage scoring below it is dropped; with none left the prompt's `retrieval.no_context` decides
    (a prompt's `retrieval.min_score` overrides it)."""
    grounding: GroundingConfig = Field(default_factory=GroundingConfig)
    """The contextual grounding check."""
    timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    """Per Retrieve attempt: how long to wait for the passages (embedding the question and the vector query;
    S3 Vectors answers in under a second). Retrieval runs before the model, in the same 29 s."""
    connect_timeout_seconds: float = Field(default=1.0, gt=0, le=10)
    """Per Retrieve attempt: how long to wait for a connection."""
    max_attempts: int = Field(default=2, ge=1, le=5)
    """Retrieve attempts in all (1 = no retry); a throttled Retrieve that outlasts them is 429 `RetrievalThrottled`."""

    @property
    def retrieval_budget_seconds(self) -> float:
        """The longest one Retrieve can take: every attempt, and the backoff between them."""
        return attempts_budget_seconds(self.max_attempts, self.connect_timeout_seconds, self.timeout_seconds)

    def documents_path(self, use_case: str) -> str:
        """The repository folder uploaded at deploy (relative to the project)."""
        return self.documents.path or f"knowledge/{use_case}"


def ungrounded_rate_alarmed(config: UseCaseConfig) -> bool:
    """The stack has the `UngroundedRate` alarm: answers checked by the guardrail's contextual grounding
    filter (`knowledge.grounding.enabled`) and a criterion to hold them to (`exit_criteria.max_ungrounded_rate`)."""
    return (
        config.knowledge is not None
        and config.knowledge.grounding.enabled
        and config.exit_criteria.max_ungrounded_rate is not None
    )


def canary_schedule(config: UseCaseConfig, stage: StageConfig) -> str:
    """The golden canary's schedule: the use case's, else the stage's default."""
    return config.monitoring.canary.schedule or stage.canary_schedule


class UseCaseConfig(_Strict):
    """The whole of `usecases/<name>.yaml`."""

    name: str
    """The use case's name, equal to the file's name: 3-40 characters of a-z, 0-9 and '-'."""
    description: str
    """One line on what the use case does (shown in the stack's description)."""
    cost_center: Annotated[str, AfterValidator(_tag_value)] = Field(min_length=1, max_length=TAG_VALUE_MAX)
    """Value of the `cost-center` tag on every resource; Budgets and Cost Explorer filter on it.
    At most 256 of letters, digits, spaces and `. _ : / = + @ -` (the tag-value rule of Bedrock's resources)."""
    models: ModelsConfig
    """Models, timeouts, retries and the fallback."""
    exit_criteria: ExitCriteria
    """The definition of done."""
    budget: BudgetConfig
    """Monthly budget and daily hard cap."""
    guardrail: GuardrailConfig
    """The Bedrock Guardrail."""
    api: ApiConfig = Field(default_factory=ApiConfig)
    """Authentication, throttling and limits of the API."""
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    """Prompt logging and redaction."""
    prompts: PromptsConfig = Field(default_factory=PromptsConfig)
    """Prompt registry cache and default alias."""
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    """Permissions boundary and table encryption key."""
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)
    """Concurrency and memory the use case is sized for."""
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    """Tracing."""
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    """Capture of real requests for new eval cases."""
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    """The golden canary's schedule."""
    charter: Charter | None = None
    """The charter: outcome, owner, expected volume, phase, review date, scope (null: none yet; readiness is
    NO-GO without one)."""
    knowledge: KnowledgeConfig | None = None
    """The knowledge base of a retrieval use case (null: prompts answer from their input alone)."""

    @model_validator(mode="after")
    def _retrieval_settings_need_knowledge(self) -> UseCaseConfig:
        criteria = ("max_ungrounded_rate", "min_retrieval_recall", "max_hallucination_rate")
        if self.knowledge is None:
            for field in criteria:
                if getattr(self.exit_criteria, field) is not None:
                    raise ValueError(
                        f"exit_criteria.{field} is set but the use case has no `knowledge:` section "
                        "(it measures retrieval): remove it, or add `knowledge:`"
                    )
        elif self.knowledge.grounding.enabled and not self.guardrail.enabled:
            raise ValueError(
                "knowledge.grounding.enabled needs guardrail.enabled: the grounding check is a guardrail filter "
                "(set guardrail.enabled: true, or knowledge.grounding.enabled: false)"
            )
        return self

    @property
    def request_budget_seconds(self) -> float:
        """The longest the Bedrock calls of one request can take: the Retrieve (a knowledge use case), then
        the model calls (every attempt, then the fallback's)."""
        retrieval = self.knowledge.retrieval_budget_seconds if self.knowledge else 0.0
        return retrieval + self.models.model_budget_seconds

    @property
    def lambda_timeout_seconds(self) -> int:
        """Long enough for the request's every Bedrock attempt, short enough to answer before API Gateway gives
        up (29 s): the request budget + headroom <= Lambda <= 29 s."""
        return min(API_GATEWAY_MAX_TIMEOUT_S, math.ceil(self.request_budget_seconds) + LAMBDA_TIMEOUT_HEADROOM_S)

    @model_validator(mode="after")
    def _retrieval_and_model_fit_the_api(self) -> UseCaseConfig:
        if self.knowledge is not None and self.request_budget_seconds > BEDROCK_BUDGET_LIMIT_S:
            knowledge = self.knowledge
            chain = attempts_chain(knowledge.max_attempts, knowledge.connect_timeout_seconds, knowledge.timeout_seconds)
            raise ValueError(
                f"knowledge: {chain} = {knowledge.retrieval_budget_seconds:g}s of retrieval, then models: "
                f"{self.models.model_budget_seconds:g}s, is {self.request_budget_seconds:g}s: above the "
                f"{BEDROCK_BUDGET_LIMIT_S}s the API can wait (a request cut off there answers no JSON and is never counted); lower "
                "knowledge.timeout_seconds or max_attempts, or the models' timeouts"
            )
        return self

    @model_validator(mode="after")
    def _concurrency_covers_the_throttle_rate(self) -> UseCaseConfig:
        reserved = self.capacity.reserved_concurrency
        needed = math.ceil(self.api.throttle_rate_per_s * self.exit_criteria.p95_latency_ms / 1000)
        if reserved is not None and reserved < needed:
            raise ValueError(
                f"capacity.reserved_concurrency {reserved} cannot serve api.throttle_rate_per_s "
                f"{self.api.throttle_rate_per_s:g} at p95 {self.exit_criteria.p95_latency_ms} ms: that needs "
                f"{needed} (rate x latency); raise it, or lower the throttle rate"
            )
        return self

    @model_validator(mode="after")
    def _name_is_dns_safe(self) -> UseCaseConfig:
        if not USE_CASE_NAME.match(self.name):
            raise ValueError(f"name `{self.name}` must be 3-40 characters of a-z, 0-9 and '-', starting with a letter")
        return self


class StageConfig(_Strict):
    """What differs between stages. Constructs read these fields; they never test the stage name."""

    name: Literal["sandbox", "prod"]
    """The stage (`-c stage=...`)."""
    destroy_on_delete: bool
    """Tables and logs are deleted with the stack (sandbox) or retained (prod)."""
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 180, 365, 400, 545, 731, 1827]
    """Retention of every log group of the stack."""
    point_in_time_recovery: bool
    """DynamoDB point-in-time recovery on the tables."""
    deletion_protection: bool
    """DynamoDB deletion protection on the tables."""
    api_logging_level: Literal["INFO", "ERROR", "OFF"]
    """API Gateway execution logging level."""
    alarm_period_minutes: Literal[1, 5, 10, 15, 60]
    """Alarms: the length of one period."""
    alarm_evaluation_periods: int = Field(ge=1, le=24)
    """Alarms: how many recent periods are looked at."""
    alarm_datapoints: int = Field(ge=1, le=24)
    """Alarms: how many of those periods must breach (prod alarms sooner)."""
    max_5xx_rate: float = Field(gt=0, lt=1)
    """Share of 5xx answers per period that raises the `Api5xxRate` alarm."""
    max_model_throttles_per_period: int = Field(ge=1)
    """Model throttles per period that raise the `ModelThrottling` alarm."""
    waf: bool
    """An AWS WAF web ACL (managed rules + rate limit) in front of the API stage."""
    capture_sample_rate: float = Field(ge=0, le=1)
    """The share of requests captured when a use case turns capture on without its own `sample_rate`."""
    canary_schedule: Annotated[str, AfterValidator(_valid_schedule)]
    """How often the golden canary runs when the use case does not say (`monitoring.canary.schedule`)."""


STAGES: dict[str, StageConfig] = {
    "sandbox": StageConfig(
        name="sandbox",
        destroy_on_delete=True,
        log_retention_days=14,
        point_in_time_recovery=False,
        deletion_protection=False,
        api_logging_level="INFO",
        alarm_period_minutes=5,
        alarm_evaluation_periods=3,
        alarm_datapoints=3,
        max_5xx_rate=0.05,
        max_model_throttles_per_period=20,
        waf=False,
        capture_sample_rate=1.0,
        canary_schedule="rate(1 day)",
    ),
    "prod": StageConfig(
        name="prod",
        destroy_on_delete=False,
        log_retention_days=365,
        point_in_time_recovery=True,
        deletion_protection=True,
        api_logging_level="ERROR",
        alarm_period_minutes=5,
        alarm_evaluation_periods=3,
        alarm_datapoints=2,
        max_5xx_rate=0.01,
        max_model_throttles_per_period=5,
        waf=True,
        capture_sample_rate=0.1,
        canary_schedule="rate(1 hour)",
    ),
}


def get_stage(name: str) -> StageConfig:
    if name not in STAGES:
        raise ConfigError(f"unknown stage `{name}`: use one of {', '.join(STAGES)} (-c stage=...)")
    return STAGES[name]


def format_validation_error(path: Path, exc: ValidationError) -> str:
    lines = [f"{display_path(path)}: {exc.error_count()} problem(s)"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        # a rule across sections (the whole config's validators) names its fields in its message
        lines.append(f"  - field `{field}`: {msg}" if field else f"  - {msg}")
    return "\n".join(lines)


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> dict:
    """Parse a YAML mapping, with errors that name the file and line."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{display_path(path)}: file not found") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{display_path(path)}{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{display_path(path)}: expected a mapping of fields at the top level")
    return data


def load_use_case_config(path: Path) -> UseCaseConfig:
    data = read_yaml(path)
    try:
        config = UseCaseConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from exc
    if config.name != path.stem:
        raise ConfigError(f"{display_path(path)}: field `name` is `{config.name}` but the file is `{path.stem}.yaml`")
    return config
