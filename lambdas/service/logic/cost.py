"""Cost of model calls from their token usage and the model's price (USD per 1,000 tokens), and the
bill of one request (every call it was billed for)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar


@dataclass(frozen=True)
class ModelPrice:
    input_per_1k: float
    output_per_1k: float
    cache_read_per_1k: float = 0.0
    cache_write_per_1k: float = 0.0


def call_cost_usd(
    price: ModelPrice, *, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0, cache_write_tokens: int = 0
) -> float:
    """Converse reports cache reads/writes separately from `inputTokens`, so each is priced once."""
    total = (
        input_tokens * price.input_per_1k
        + output_tokens * price.output_per_1k
        + cache_read_tokens * price.cache_read_per_1k
        + cache_write_tokens * price.cache_write_per_1k
    ) / 1000
    return round(total, 10)


class Usage(Protocol):
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int


def reply_cost_usd(price: ModelPrice, usage: Usage) -> float:
    """The cost of a Converse reply (service.dal.model_client.ModelReply) at `price`."""
    return call_cost_usd(
        price,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )


def guardrail_cost_usd(units: Mapping[str, int], per_unit: Mapping[str, float]) -> float:
    """Guardrail charges: text units by policy (from the Converse trace) x USD per unit."""
    return round(sum(count * per_unit.get(policy, 0.0) for policy, count in units.items()), 10)


# The guardrail policy whose text units are the grounding check's (service.dal.model_client.GUARDRAIL_UNITS)
GROUNDING_POLICY = "contextual_grounding"


@dataclass(frozen=True)
class RetrievalPrice:
    """One Retrieve's billed parts: the query's embedding (USD per 1,000 input tokens of the knowledge
    base's embedding model) and the vector store's query (S3 Vectors, USD per query request)."""

    embedding_per_1k_tokens: float
    vector_query_per_request: float


def query_tokens_estimate(query: str) -> int:
    """The tokens the embedding model is billed for a query: Retrieve does not report them, so they are
    estimated as the spend cap estimates a prompt it has no usage for (CHARS_PER_TOKEN_ESTIMATE characters a
    token, rounded up: an overestimate, English runs about 4)."""
    return -(-len(query) // CHARS_PER_TOKEN_ESTIMATE)


def retrieval_cost_lines(price: RetrievalPrice, query: str) -> dict[str, float]:
    """The cost lines of one Retrieve of `query`: `embedding` and `vector_query`."""
    return {
        "embedding": round(query_tokens_estimate(query) * price.embedding_per_1k_tokens / 1000, 10),
        "vector_query": round(price.vector_query_per_request, 10),
    }


# Pessimistic token estimate for a prompt no usage came back for: English runs about 4 characters a
# token; counting 3 overestimates, so the spend cap errs on the side of stopping early.
CHARS_PER_TOKEN_ESTIMATE = 3
# ...and for the guardrail's side of it, the other way round: an output token taken as 6 characters
# (English averages about 4) overestimates the text units the guardrail evaluated on the answer.
CHARS_PER_OUTPUT_TOKEN_ESTIMATE = 6
GUARDRAIL_TEXT_UNIT_CHARS = 1000  # a guardrail text unit is up to 1,000 characters


def abandoned_attempt_cost_usd(
    price: ModelPrice, *, prompt_chars: int, max_tokens: int, guardrail_per_unit: Mapping[str, float] | None = None
) -> float:
    """What one timed-out attempt may have cost: Bedrock can finish and bill a request whose client
    gave up, and reports no usage for it. Input estimated from the rendered text, output at the most
    the prompt allows (`max_tokens`); with a guardrail attached (`guardrail_per_unit`: USD per text unit
    by policy), the text units of the input and of that longest answer, at every priced policy."""
    input_tokens = -(-prompt_chars // CHARS_PER_TOKEN_ESTIMATE)
    cost = call_cost_usd(price, input_tokens=input_tokens, output_tokens=max_tokens)
    if guardrail_per_unit:
        units = -(-prompt_chars // GUARDRAIL_TEXT_UNIT_CHARS) + -(
            -(max_tokens * CHARS_PER_OUTPUT_TOKEN_ESTIMATE) // GUARDRAIL_TEXT_UNIT_CHARS
        )
        cost += units * sum(guardrail_per_unit.values())
    return round(cost, 10)


class BilledReply(Usage, Protocol):
    guardrail_units: Mapping[str, int]
    abandoned_attempts: int


Reply = TypeVar("Reply", bound=BilledReply)


@dataclass
class Bill:
    """Every model call one request was billed for, or may have been, kept as each call ends: whatever
    ends the request (an answer, an error, an unexpected exception) is charged in full from here."""

    guardrail_prices: Mapping[str, float]  # USD per text unit, by guardrail policy
    replies: list = field(default_factory=list)  # every answered call (service.dal.model_client.ModelReply)
    abandoned_attempts: int = 0  # timed-out attempts, charged at an estimate
    # USD by line (service.models.retrieval.COST_LINES): model, guardrail, embedding, vector_query, grounding
    lines: dict[str, float] = field(default_factory=dict)
    _usd: float = 0.0

    def charge(self, line: str, usd: float) -> None:
        """A billed charge of its own line (a Retrieve's embedding and vector query)."""
        self.lines[line] = round(self.lines.get(line, 0.0) + usd, 10)
        self._usd += usd

    def answered(self, price: ModelPrice, reply: BilledReply) -> None:
        """A call that answered: its tokens and guardrail units (the grounding check's on a line of its own)."""
        self.replies.append(reply)
        self.charge("model", reply_cost_usd(price, reply))
        self.guardrail_checked(reply.guardrail_units)

    def guardrail_checked(self, units: Mapping[str, int]) -> None:
        """Guardrail text units, by policy: the grounding check's on its own line, the others on `guardrail`."""
        units = dict(units)
        grounding = {GROUNDING_POLICY: units.pop(GROUNDING_POLICY)} if GROUNDING_POLICY in units else {}
        self.charge("guardrail", guardrail_cost_usd(units, self.guardrail_prices))
        if grounding:
            self.charge("grounding", guardrail_cost_usd(grounding, self.guardrail_prices))

    def call(self, price: ModelPrice, abandoned_usd: float, converse: Callable[[], Reply]) -> Reply:
        """Make one model call (`converse`) and enter it as it ends: its answer, and the attempts it
        abandoned (timed out) at `abandoned_usd` each, whether it answered or raised."""
        try:
            reply = converse()
        except Exception as exc:  # a ServiceError says how many attempts it abandoned
            self.abandoned(getattr(exc, "abandoned_attempts", 0), abandoned_usd)
            raise
        self.answered(price, reply)
        self.abandoned(reply.abandoned_attempts, abandoned_usd)
        return reply

    def abandoned(self, attempts: int, estimate_usd: float) -> None:
        """Attempts that timed out (or answered unreadably), each at `estimate_usd`."""
        self.abandoned_attempts += attempts
        if attempts:
            self.charge("model", attempts * estimate_usd)

    @property
    def cost_usd(self) -> float:
        return round(self._usd, 10)
