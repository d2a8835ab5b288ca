"""Cost of one model call from its token usage and the model's price (USD per 1,000 tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


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


# Pessimistic token estimate for a prompt no usage came back for: English runs about 4 characters a
# token; counting 3 overestimates, so the spend cap errs on the side of stopping early.
CHARS_PER_TOKEN_ESTIMATE = 3


def abandoned_attempt_cost_usd(price: ModelPrice, *, prompt_chars: int, max_tokens: int) -> float:
    """What one timed-out attempt may have cost: Bedrock can finish and bill a request whose client
    gave up, and reports no usage for it. Input estimated from the rendered text, output at the most
    the prompt allows (`max_tokens`)."""
    input_tokens = -(-prompt_chars // CHARS_PER_TOKEN_ESTIMATE)
    return call_cost_usd(price, input_tokens=input_tokens, output_tokens=max_tokens)
