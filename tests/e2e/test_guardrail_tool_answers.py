"""fixture-triage's JSON answer comes as a forced tool's input (Nova: `structured_output: tool`), which the
guardrail in Converse's guardrailConfig does not evaluate; the API checks it with ApplyGuardrail. Through local
mode as a user runs it: the simulator plays both, as Bedrock does."""

import pytest
import requests

from liftoff.foundation.pricing import load_pricing
from liftoff.foundation.usecases import load_use_case
from liftoff.local.bedrock_simulator import guardrail_usage
from liftoff.local.guardrail_rules import GuardrailRules
from service.dal.model_client import GUARDRAIL_UNITS

EMAIL = "jane.doe@example.com"


def simulator_checks(local) -> int:
    return requests.get(f"{local.bedrock_url}/_sim/health", timeout=5).json()["guardrail_checks"]


def test_a_triage_answer_quoting_an_email_is_masked_through_the_local_api(post, local):
    # Given a customer message with an e-mail address, which the triage answer's summary quotes
    before = simulator_checks(local)
    status, body = post({"prompt_id": "triage", "variables": {"message": f"I cannot log in, write to {EMAIL}"}})
    # Then the answer is masked by the guardrail's check of the tool answer ({EMAIL}), the address nowhere
    assert status == 200, body
    assert body["guardrail"] == "masked"
    assert "{EMAIL}" in body["output_json"]["summary"] and EMAIL not in str(body)
    assert simulator_checks(local) == before + 1  # one ApplyGuardrail call for the answer
    # and the request's cost is the model's tokens plus one text unit per policy for the input (Converse's
    # guardrail) and one for the answer (ApplyGuardrail): both are under 1,000 characters
    assert body["cost_usd"] == pytest.approx(model_usd(body) + 2 * guardrail_unit_usd(), rel=1e-6)


def model_usd(body: dict) -> float:
    price = load_use_case("fixture-triage").prices[body["model_id"]]
    return (
        body["usage"]["input_tokens"] * price.input_per_1k + body["usage"]["output_tokens"] * price.output_per_1k
    ) / 1000


def guardrail_unit_usd() -> float:
    rules = GuardrailRules.for_use_case(load_use_case("fixture-triage").config)
    usage, per_unit = guardrail_usage(rules, "x"), load_pricing().guardrails.per_unit()
    return sum(usage[member] * per_unit[policy] for member, policy in GUARDRAIL_UNITS.items())
