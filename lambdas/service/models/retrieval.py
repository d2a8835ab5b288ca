"""Grounded answers (prompts with `retrieval:`): the passages a request retrieved, what the answer cites,
and what the guardrail's contextual grounding check found; as the response carries them and as the
metrics and the log line report them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

EXCERPT_CHARS = 300  # a citation's excerpt: the passage's first characters, whitespace collapsed


@dataclass(frozen=True)
class Passage:
    """One retrieved passage kept for the prompt: `id` is P1..Pn in rank order."""

    id: str
    text: str
    source_uri: str  # location.s3Location.uri
    source: str  # the file, relative to the documents' prefix
    score: float
    effective_date: str | None = None  # from the document's metadata (its .metadata.json sidecar)

    @property
    def excerpt(self) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "\u2026"


class Citation(BaseModel):
    """A passage the answer cites."""

    id: str
    source_uri: str
    source: str
    score: float
    excerpt: str


class PassageRef(BaseModel):
    """A passage retrieved at `min_score` or above (cited or not)."""

    id: str
    source: str
    source_uri: str
    score: float


class RetrievalSummary(BaseModel):
    """The passages kept at `min_score` or above; `outcome` `no_context` when none was (see `retrieval.no_context`)."""

    passages: list[PassageRef]
    top_k: int
    min_score: float
    outcome: Literal["answered", "no_context"]


class GroundingResult(BaseModel):
    """The guardrail's grounding check: `grounded` when both scores reach their thresholds, `blocked` if replaced."""

    grounding_score: float | None
    relevance_score: float | None
    grounded: bool
    action: Literal["BLOCK", "NONE"]
    blocked: bool


# The request's cost lines of a grounded answer (USD), summing to its cost_usd
COST_LINES = ("model", "guardrail", "embedding", "vector_query", "grounding")


@dataclass
class RetrievalReport:
    """What a request with retrieval reports to the metrics and the log line, answered or failed."""

    retrieved: bool = False  # the knowledge base answered (False: the request failed before or at Retrieve)
    latency_ms: int = 0
    passages: int = 0
    no_context: bool = False
    grounding: GroundingResult | None = None
    cost_lines: dict[str, float] = field(default_factory=dict)

    def log_fields(self) -> dict:
        fields: dict = {}
        if self.retrieved:
            fields.update(retrieval_latency_ms=self.latency_ms, passages=self.passages, no_context=self.no_context)
        if self.grounding is not None:
            fields.update(
                grounding_score=self.grounding.grounding_score,
                relevance_score=self.grounding.relevance_score,
                grounded=self.grounding.grounded,
                grounding_blocked=self.grounding.blocked,
            )
        fields.update({f"cost_{line}_usd": usd for line, usd in self.cost_lines.items()})
        return fields
