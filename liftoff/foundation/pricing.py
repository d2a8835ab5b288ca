"""The pricing table (`pricing/bedrock.yaml`), validated; prices for a use case's models."""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from liftoff import REPO_ROOT
from liftoff.foundation.bedrock_ids import GLOBAL_PREFIX, split_model_id
from liftoff.foundation.config import format_validation_error, read_yaml
from liftoff.foundation.errors import ConfigError
from service.logic.cost import ModelPrice, RetrievalPrice

PRICING_FILE = REPO_ROOT / "pricing" / "bedrock.yaml"


# How a call is routed, read from the model id: `in_region` (a foundation-model id), `geo` (a geographic
# cross-Region profile: us., eu., apac., ...), `global` (global.); some models are priced by it
ProfileKind = Literal["in_region", "geo", "global"]


def profile_kind(model_id: str) -> tuple[ProfileKind, str]:
    """(kind, foundation-model id) of a model id: `us.anthropic.x` -> ("geo", "anthropic.x")."""
    prefix, foundation_id = split_model_id(model_id)  # the one reading of a model id, IAM's too
    if prefix == GLOBAL_PREFIX:
        return "global", foundation_id
    return ("geo" if prefix else "in_region"), foundation_id


class KindPrice(BaseModel):
    """The prices of one kind of routing, where they differ from the entry's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)
    cache_read_per_1k: float = Field(default=0, ge=0)
    cache_write_per_1k: float = Field(default=0, ge=0)


class PriceEntry(KindPrice):
    """One model's prices (its in-Region ones), where they come from, and how it holds a JSON schema."""

    source: str = Field(min_length=5)
    checked: dt.date
    regions: dict[str, dict[str, float]] = Field(default_factory=dict)
    # Prices by routing kind where they differ from the entry's (its in-Region price): `geo` defaults to the
    # entry's, `global` must be listed to be used
    kinds: dict[Literal["geo", "global"], KindPrice] = Field(default_factory=dict)
    # How the model can be held to a JSON schema (prompts with `output.format: json`): `native` Converse
    # outputConfig.textFormat, `tool` a forced single tool whose inputSchema is the schema, `none`.
    structured_output: Literal["native", "tool", "none"] = "none"

    def price(self, region: str | None = None, kind: ProfileKind = "in_region") -> ModelPrice:
        fields = {k: getattr(self, k) for k in KindPrice.model_fields}
        fields.update(self.regions.get(region or "", {}))
        if kind in self.kinds:
            fields.update(self.kinds[kind].model_dump())
        return ModelPrice(**fields)


class GuardrailPrices(BaseModel):
    """USD per 1,000 text units, by guardrail policy (the keys of service.dal.model_client.GUARDRAIL_UNITS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_per_1k_units: float = Field(ge=0)
    topic_per_1k_units: float = Field(ge=0)
    sensitive_information_per_1k_units: float = Field(ge=0)
    word_per_1k_units: float = Field(ge=0)
    contextual_grounding_per_1k_units: float = Field(ge=0)
    source: str = Field(min_length=5)
    checked: dt.date

    def per_unit(self) -> dict[str, float]:
        """policy -> USD per text unit."""
        return {
            name.removesuffix("_per_1k_units"): value / 1000
            for name, value in self.model_dump().items()
            if name.endswith("_per_1k_units")
        }


class EmbeddingPrice(BaseModel):
    """An embedding model's price (USD per 1,000 input tokens) and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_1k: float = Field(ge=0)
    source: str = Field(min_length=5)
    checked: dt.date


class VectorStorePrices(BaseModel):
    """S3 Vectors, as a knowledge base's vector store: USD per 1,000 query requests (one per Retrieve)."""

    model_config = ConfigDict(extra="allow", frozen=True)  # storage and PUT lines for `liftoff cost project`

    query_per_1k_requests: float = Field(ge=0)
    source: str = Field(min_length=5)
    checked: dt.date


class RetrievalPrices(BaseModel):
    """What a request of a prompt with `retrieval:` pays beyond the model: the query's embedding and the
    vector query (the grounding check is the guardrails' `contextual_grounding` line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    embedding_models: dict[str, EmbeddingPrice]
    s3_vectors: VectorStorePrices


class PricingTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models: dict[str, PriceEntry]
    guardrails: GuardrailPrices
    retrieval: RetrievalPrices | None = None


@functools.cache  # read once per process, however many use cases are loaded
def load_pricing(path: Path = PRICING_FILE) -> PricingTable:
    try:
        return PricingTable.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from exc


def prices_for(model_ids: list[str], table: PricingTable, region: str | None = None) -> dict[str, ModelPrice]:
    """Price of each model id, by its model and how it is routed (in-Region, geographic or global
    cross-Region inference: profile_kind); unknown -> ConfigError. The one place model prices are read:
    the function's LIFTOFF_MODEL_PRICES, the eval's direct target and `liftoff cost` all come from here."""
    prices = {}
    for model_id in model_ids:
        kind, foundation_id = profile_kind(model_id)
        entry = table.models.get(foundation_id)
        if entry is None:
            raise ConfigError(
                f"pricing/bedrock.yaml: no price for model `{foundation_id}` (used as `{model_id}`); add an entry "
                "with input_per_1k, output_per_1k, source and checked"
            )
        if kind == "global" and "global" not in entry.kinds:
            raise ConfigError(
                f"pricing/bedrock.yaml: model `{foundation_id}` has no global cross-Region price (used as "
                f"`{model_id}`); add `kinds: {{global: ...}}` to its entry from the Bedrock pricing page"
            )
        prices[model_id] = entry.price(region, kind)
    return prices


def structured_output_mechanism(model_id: str, table: PricingTable | None = None) -> str:
    """`native`, `tool` or `none` for a model id (inference profiles as their model)."""
    entry = (table or load_pricing()).models.get(profile_kind(model_id)[1])
    return entry.structured_output if entry else "none"


def structured_output_env_value(model_ids: list[str]) -> str:
    """The LIFTOFF_STRUCTURED_OUTPUT environment value: model id -> mechanism."""
    return json.dumps({m: structured_output_mechanism(m) for m in sorted(model_ids)}, separators=(",", ":"))


def guardrail_prices_env_value(table: PricingTable | None = None) -> str:
    """The LIFTOFF_GUARDRAIL_PRICES environment value: policy -> USD per text unit."""
    return json.dumps((table or load_pricing()).guardrails.per_unit(), sort_keys=True, separators=(",", ":"))


def prices_env_value(prices: dict[str, ModelPrice]) -> str:
    """The LIFTOFF_MODEL_PRICES environment value the invoke function reads."""
    return json.dumps({m: asdict(p) for m, p in sorted(prices.items())}, separators=(",", ":"))


def retrieval_price(embedding_model_id: str, table: PricingTable | None = None) -> RetrievalPrice:
    """One Retrieve's prices for a knowledge base embedding with `embedding_model_id` (ConfigError naming the
    pricing file's field when it has none). The one place they are read: the function and `liftoff cost`."""
    retrieval = (table or load_pricing()).retrieval
    entry = retrieval.embedding_models.get(embedding_model_id) if retrieval else None
    if entry is None:
        raise ConfigError(
            f"pricing/bedrock.yaml: no price for embedding model `{embedding_model_id}`; add "
            f"`retrieval.embedding_models.{embedding_model_id}` with input_per_1k, source and checked"
        )
    return RetrievalPrice(
        embedding_per_1k_tokens=entry.input_per_1k,
        vector_query_per_request=retrieval.s3_vectors.query_per_1k_requests / 1000,
    )


def retrieval_prices_env_value(embedding_model_id: str, table: PricingTable | None = None) -> str:
    """The LIFTOFF_RETRIEVAL_PRICES environment value: one Retrieve's prices."""
    return json.dumps(asdict(retrieval_price(embedding_model_id, table)), sort_keys=True, separators=(",", ":"))
