"""Cost of one model call from its token usage and the model's price (USD per 1,000 tokens)."""

from __future__ import annotations

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
