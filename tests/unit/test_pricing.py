import pytest

from liftoff.foundation.errors import ConfigError
from liftoff.foundation.pricing import load_pricing, prices_for
from service.logic.cost import ModelPrice, call_cost_usd


def test_every_entry_names_its_source_and_check_date():
    table = load_pricing()
    assert {"amazon.nova-micro-v1:0", "amazon.nova-lite-v1:0", "amazon.nova-pro-v1:0"} <= set(table.models)
    assert any(m.startswith("anthropic.claude-haiku") for m in table.models)
    assert any(m.startswith("anthropic.claude-sonnet") for m in table.models)
    for entry in table.models.values():
        assert entry.source.startswith("https://")
        assert entry.checked.year >= 2025


def test_inference_profile_is_priced_as_its_model():
    table = load_pricing()
    prices = prices_for(["us.amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0"], table)
    assert prices["us.amazon.nova-micro-v1:0"] == prices["amazon.nova-micro-v1:0"]
    assert prices["amazon.nova-micro-v1:0"].input_per_1k == 0.000035


def test_unknown_model_is_a_config_error_naming_the_file():
    with pytest.raises(ConfigError, match=r"pricing/bedrock.yaml: no price for model `acme.model-v1:0`"):
        prices_for(["us.acme.model-v1:0"], load_pricing())


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ({"input_tokens": 1000, "output_tokens": 0}, 0.001),
        ({"input_tokens": 0, "output_tokens": 1000}, 0.005),
        ({"input_tokens": 2000, "output_tokens": 500}, 0.0045),
        ({"input_tokens": 100, "output_tokens": 100, "cache_read_tokens": 1000, "cache_write_tokens": 1000}, 0.00195),
        ({"input_tokens": 0, "output_tokens": 0}, 0.0),
    ],
)
def test_call_cost_arithmetic(tokens, expected):
    price = ModelPrice(input_per_1k=0.001, output_per_1k=0.005, cache_read_per_1k=0.0001, cache_write_per_1k=0.00125)
    assert call_cost_usd(price, **tokens) == pytest.approx(expected)


def test_a_geographic_profile_is_priced_by_its_kind_and_global_at_its_own_price():
    # Given Claude Haiku 4.5, whose geographic cross-Region inference costs about 10 % more than global
    table = load_pricing()
    model = "anthropic.claude-haiku-4-5-20251001-v1:0"
    prices = prices_for([f"us.{model}", f"eu.{model}", f"global.{model}", model], table)
    # Then the us./eu. profiles are priced as in-Region (with the surcharge), global at the list price
    assert prices[f"us.{model}"] == prices[f"eu.{model}"] == prices[model]
    assert prices[f"us.{model}"].input_per_1k == pytest.approx(1.1 * prices[f"global.{model}"].input_per_1k)
    assert prices[f"us.{model}"].output_per_1k == pytest.approx(1.1 * prices[f"global.{model}"].output_per_1k)


def test_a_global_profile_of_a_model_without_a_global_price_is_refused():
    with pytest.raises(ConfigError, match=r"`amazon.nova-micro-v1:0` has no global cross-Region price"):
        prices_for(["global.amazon.nova-micro-v1:0"], load_pricing())
