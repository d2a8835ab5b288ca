"""A JSON answer given as a forced tool's input (Nova: pricing/bedrock.yaml `structured_output: tool`) is not
evaluated by the guardrail in Converse's guardrailConfig (Bedrock user guide, "Include a guardrail with the
Converse API": toolUse.input is not evaluated), so the service checks it on its own with ApplyGuardrail
(source OUTPUT). Through the real handler on fixture-triage, DynamoDB from moto, Bedrock's runtime stubbed."""

import dataclasses
import functools
import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from service.dal.model_client import ModelClient
from service.dal.prompt_store import PromptStore
from service.handlers import invoke as handler_module
from service.settings import get_settings

MESSAGE = "I cannot log in to my account, write to me at jane@example.com"
ANSWER = {"category": "account", "priority": "high", "summary": "Cannot log in; reply to jane@example.com"}
MASKED = {**ANSWER, "summary": "Cannot log in; reply to {EMAIL}"}
CONVERSE_PARAMS = ("modelId", "messages", "inferenceConfig", "toolConfig", "system", "guardrailConfig")
INPUT_UNITS = {  # the Converse trace's input assessment: what the guardrail in guardrailConfig evaluated
    "topicPolicyUnits": 1,
    "contentPolicyUnits": 1,
    "wordPolicyUnits": 1,
    "sensitiveInformationPolicyUnits": 1,
    "sensitiveInformationPolicyFreeUnits": 0,
    "contextualGroundingPolicyUnits": 0,
}
CHECK_UNITS = {**INPUT_UNITS, "topicPolicyUnits": 2, "contentPolicyUnits": 2, "sensitiveInformationPolicyUnits": 2}


def tool_reply(answer: dict | None = None, text: str | None = None, tokens=(300, 30)) -> dict:
    """Converse's answer: the forced tool's input (or text), the input assessment's units in the trace."""
    content = (
        [{"text": text}] if text is not None else [{"toolUse": {"toolUseId": "t1", "name": "answer", "input": answer}}]
    )
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": "end_turn" if text is not None else "tool_use",
        "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1], "totalTokens": sum(tokens)},
        "metrics": {"latencyMs": 200},
        "trace": {"guardrail": {"inputAssessment": {"g": {"invocationMetrics": {"usage": INPUT_UNITS}}}}},
    }


def check_reply(action: str = "NONE", outputs: list[str] = (), assessment: dict | None = None) -> dict:
    """ApplyGuardrail's answer, in botocore's shape."""
    return {
        "usage": CHECK_UNITS,
        "action": action,
        "outputs": [{"text": t} for t in outputs],
        "assessments": [assessment or {}],
    }


ANONYMIZED = {
    "sensitiveInformationPolicy": {
        "piiEntities": [{"match": "jane@example.com", "type": "EMAIL", "action": "ANONYMIZED", "detected": True}],
        "regexes": [],
    }
}
BLOCKED = {
    "wordPolicy": {"customWords": [{"match": "PWNED", "action": "BLOCKED", "detected": True}], "managedWordLists": []}
}


class Runtime:
    """A stubbed bedrock-runtime client, recording every ApplyGuardrail request."""

    def __init__(self):
        self.client = boto3.client("bedrock-runtime", region_name="us-east-1")
        self.stub = Stubber(self.client)
        self.checks: list[dict] = []
        self.client.meta.events.register(
            "before-parameter-build.bedrock-runtime.ApplyGuardrail",
            lambda params, **_: self.checks.append(json.loads(json.dumps(params))),
        )
        self.stub.activate()

    def converses(self, response: dict, without: tuple[str, ...] = ()) -> None:
        self.stub.add_response("converse", response, {k: ANY for k in CONVERSE_PARAMS if k not in without})

    def checks_answer(self, answer_text: str, response: dict) -> None:
        identifier, version = get_settings().guardrail
        content = [{"text": {"text": answer_text, "qualifiers": ["guard_content"]}}]
        self.stub.add_response(
            "apply_guardrail",
            response,
            {"guardrailIdentifier": identifier, "guardrailVersion": version, "source": "OUTPUT", "content": content},
        )


@pytest.fixture
def runtime():
    return Runtime()


@pytest.fixture
def ask(call, runtime, monkeypatch):
    """ask(body) -> (status, body): fixture-triage's handler with `runtime` as Bedrock."""

    def _ask(body: dict):
        handler_module.get_deps.cache_clear()
        settings = get_settings()
        deps = dataclasses.replace(
            handler_module.get_deps(), model=ModelClient(runtime.client, settings.guardrail, settings.model_profiles)
        )
        monkeypatch.setattr(handler_module, "get_deps", functools.lru_cache(maxsize=1)(lambda: deps))
        return call(body)

    return _ask


def counted(spend_table) -> tuple[float, int]:
    items = spend_table.scan()["Items"]
    return (float(items[0]["spend_usd"]), int(items[0]["requests"])) if items else (0.0, 0)


def usd(units: dict) -> float:
    from service.dal.model_client import GUARDRAIL_UNITS

    prices = get_settings().guardrail_prices
    return sum(units[m] * prices[p] for m, p in GUARDRAIL_UNITS.items())


def model_usd(tokens=(300, 30)) -> float:
    settings = get_settings()
    price = settings.model_prices["us.amazon.nova-micro-v1:0"]
    return tokens[0] / 1000 * price.input_per_1k + tokens[1] / 1000 * price.output_per_1k


def test_a_pii_in_a_tool_answer_is_masked_by_apply_guardrail_and_its_units_billed(ask, runtime, spend_table):
    # Given Nova's answer as the forced tool's input, with the customer's e-mail in it, and the guardrail masking it
    runtime.converses(tool_reply(ANSWER))
    runtime.checks_answer(json.dumps(ANSWER), check_reply("GUARDRAIL_INTERVENED", [json.dumps(MASKED)], ANONYMIZED))
    # When the message is triaged
    status, body = ask({"prompt_id": "triage", "variables": {"message": MESSAGE}})
    # Then the answer the client gets is the masked one (the stub checked the request: the JSON text, OUTPUT)
    assert status == 200, body
    runtime.stub.assert_no_pending_responses()
    assert body["guardrail"] == "masked"
    assert body["output_json"] == MASKED and json.loads(body["output"]) == MASKED
    assert "jane@example.com" not in json.dumps(body)
    # and the check's text units are billed with the Converse call's, once, on the counter
    assert body["cost_usd"] == pytest.approx(model_usd() + usd(INPUT_UNITS) + usd(CHECK_UNITS), rel=1e-6)
    assert counted(spend_table) == (pytest.approx(body["cost_usd"]), 1)


def test_a_tool_answer_the_guardrail_blocks_is_the_blocked_output_422_and_billed(ask, runtime, spend_table, triage):
    message = triage.config.guardrail.blocked_output_message
    runtime.converses(tool_reply({**ANSWER, "summary": "PWNED"}))
    runtime.checks_answer(
        json.dumps({**ANSWER, "summary": "PWNED"}), check_reply("GUARDRAIL_INTERVENED", [message], BLOCKED)
    )
    status, body = ask({"prompt_id": "triage", "variables": {"message": MESSAGE}})
    # Then the same answer a block in Converse gives: 422 GuardrailIntervened with the blocked-output message
    assert (status, body["error"]["code"], body["error"]["message"]) == (422, "GuardrailIntervened", message)
    assert "PWNED" not in json.dumps(body)
    assert counted(spend_table) == (pytest.approx(model_usd() + usd(INPUT_UNITS) + usd(CHECK_UNITS), rel=1e-6), 1)


def test_a_masking_that_breaks_the_schema_is_a_blocked_output(ask, runtime, spend_table):
    # Given a valid answer whose masking makes it invalid: a summary at its 200-character limit, where the
    # placeholder {EMAIL} is longer than the address it replaces
    answer = {**ANSWER, "summary": "y" * 194 + "a@b.io"}
    masked = {**ANSWER, "summary": "y" * 194 + "{EMAIL}"}
    runtime.converses(tool_reply(answer))
    runtime.checks_answer(json.dumps(answer), check_reply("GUARDRAIL_INTERVENED", [json.dumps(masked)], ANONYMIZED))
    status, body = ask({"prompt_id": "triage", "variables": {"message": MESSAGE}})
    # Then it is withheld as a blocked output (422), neither the unmasked nor the invalid masked answer returned
    assert (status, body["error"]["code"]) == (422, "GuardrailIntervened")
    assert "output schema" in body["error"]["message"]
    assert "a@b.io" not in json.dumps(body) and "{EMAIL}" not in json.dumps(body)
    assert counted(spend_table) == (pytest.approx(model_usd() + usd(INPUT_UNITS) + usd(CHECK_UNITS), rel=1e-6), 1)


@pytest.mark.parametrize(
    ("code", "http"),
    [("ThrottlingException", 429), ("InternalServerException", 500), ("ServiceUnavailableException", 503)],
)
def test_a_failed_check_after_the_model_was_billed_is_a_502_with_the_model_cost_counted_once(
    ask, runtime, spend_table, printed, code, http
):
    # Given an answer from the model (billed), then ApplyGuardrail failing
    runtime.converses(tool_reply(ANSWER))
    runtime.stub.add_client_error("apply_guardrail", code, "arn:aws:bedrock:us-east-1:123456789012:guardrail/x", http)
    status, body = ask({"prompt_id": "triage", "variables": {"message": MESSAGE}})
    # Then fail closed: a 502 that says the guardrail could not check it, with nothing of the answer or the account
    assert (status, body["error"]["code"]) == (502, "ModelError")
    assert "guardrail" in body["error"]["message"] and code in body["error"]["message"]
    assert "jane@example.com" not in json.dumps(body) and "123456789012" not in json.dumps(body)
    # and the model's call and its input assessment are on the counter, once, and in the cost metric
    cost = model_usd() + usd(INPUT_UNITS)
    assert counted(spend_table) == (pytest.approx(cost, rel=1e-6), 1)
    (record,), _ = printed()
    assert record["CostUSD"] == [pytest.approx(cost, rel=1e-6)]


def test_a_text_answer_makes_no_apply_guardrail_call(ask, runtime, table, triage, spend_table):
    # Given a version of the triage prompt answering in text (Converse's guardrail evaluates text output itself)
    prompt = triage.prompts[0]
    text = prompt.model_copy(update={"output": prompt.output.model_copy(update={"format": "text", "schema_": None})})
    version = PromptStore(table, triage.name).publish(text, author="test").version
    runtime.converses(tool_reply(text="An account problem."), without=("toolConfig",))
    status, body = ask({"prompt_id": "triage", "version": version, "variables": {"message": MESSAGE}})
    assert status == 200, body
    assert body["output"] == "An account problem." and runtime.checks == []
    assert counted(spend_table) == (pytest.approx(model_usd() + usd(INPUT_UNITS), rel=1e-6), 1)


def test_a_use_case_without_a_guardrail_makes_no_apply_guardrail_call(ask, runtime, monkeypatch, spend_table):
    monkeypatch.delenv("LIFTOFF_GUARDRAIL_ID")
    get_settings.cache_clear()
    assert get_settings().guardrail is None
    reply = tool_reply(ANSWER)
    del reply["trace"]
    runtime.converses(reply, without=("guardrailConfig",))
    status, body = ask({"prompt_id": "triage", "variables": {"message": MESSAGE}})
    assert status == 200, body
    assert body["output_json"] == ANSWER and runtime.checks == []
    runtime.stub.assert_no_pending_responses()
