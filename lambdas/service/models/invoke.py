"""Request and response of POST /v1/invoke.

`invoke_request_schema` is what API Gateway validates at the front door (draft-04, the dialect it
speaks); `InvokeRequest` is what the handler validates. tests/unit/test_invoke_handler.py keeps the
two in agreement.

Sizes: the body's limit (`api.max_body_bytes`, 413 PayloadTooLarge, checked before the body is
parsed) is the one size limit at the edge, and each prompt variable's `max_length` (400
VariableTooLong) the per-variable one. The gateway caps a variable at the body's limit: a longer one
cannot be in a body the handler accepts (a character takes at least a byte), so the cap never
refuses what the body limit lets through.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.models.prompt import PROMPT_ID_PATTERN
from service.models.retrieval import Citation, GroundingResult, RetrievalSummary

MAX_VARIABLES = 50
ALIAS_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"


def invoke_request_schema(max_body_bytes: int | None) -> dict:
    """The JSON schema of the body, for a use case whose bodies are at most `max_body_bytes`
    (None: no per-variable cap, for the OpenAPI document every use case shares)."""
    value: dict = {"type": "string"}
    if max_body_bytes is not None:
        value["maxLength"] = max_body_bytes
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "InvokeRequest",
        "type": "object",
        "required": ["prompt_id"],
        "additionalProperties": False,
        "properties": {
            "prompt_id": {"type": "string", "pattern": PROMPT_ID_PATTERN},
            "variables": {"type": "object", "maxProperties": MAX_VARIABLES, "additionalProperties": value},
            "alias": {"type": "string", "pattern": ALIAS_PATTERN},
            "version": {"type": "integer", "minimum": 1},
        },
        # either an alias or a version, not both (the handler says so too, in InvokeRequest)
        "not": {"required": ["alias", "version"]},
    }


class InvokeRequest(BaseModel):
    """Body of POST /v1/invoke: which prompt to run and the values of its variables (each bounded by
    the body's size, checked before this model, and by the prompt variable's `max_length`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_id: str = Field(pattern=PROMPT_ID_PATTERN)
    variables: dict[str, str] = Field(default_factory=dict, max_length=MAX_VARIABLES)
    alias: str | None = Field(default=None, pattern=ALIAS_PATTERN)
    version: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _alias_or_version(self) -> InvokeRequest:
        if self.alias is not None and self.version is not None:
            raise ValueError("give either `alias` or `version`, not both")
        return self


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class InvokeResponse(BaseModel):
    """What a successful invoke returns to the client."""

    output: str
    # the answer as a JSON value, validated against the prompt's output schema (prompts with format json)
    output_json: Any = None
    repairs: int = 0  # how many times the model was asked again before its answer matched the schema
    stop_reason: str
    # the answer hit the prompt's max_tokens and is cut short (stop_reason "max_tokens"): check before use
    truncated: bool = False
    usage: Usage
    model_id: str
    prompt_id: str
    prompt_version: int
    request_id: str
    cost_usd: float
    latency_ms: int
    model_latency_ms: int
    guardrail: str | None = None  # "masked" when the guardrail anonymised part of the answer
    fallback_from: str | None = None  # the prompt's model, when it failed and `model_id` answered instead
    # send it to POST /v1/feedback to rate this answer (None when the feedback key could not be read)
    feedback_token: str | None = None
    # Prompts with `retrieval:` only (absent from the body otherwise, so existing clients see what they saw):
    # the passages the answer cites, what was retrieved, the grounding check (null when not checked), and the
    # request's cost by line (service.models.retrieval.COST_LINES)
    citations: list[Citation] | None = None
    retrieval: RetrievalSummary | None = None
    grounding: GroundingResult | None = None
    cost_lines: dict[str, float] | None = None

    def to_body(self) -> dict:
        """The JSON body: a prompt without retrieval answers exactly the fields it answered before retrieval."""
        exclude = set(RETRIEVAL_FIELDS) if self.retrieval is None else set()
        return self.model_dump(mode="json", exclude=exclude)


RETRIEVAL_FIELDS = ("citations", "retrieval", "grounding", "cost_lines")
