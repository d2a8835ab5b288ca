"""Whatever ends a request, what it was billed for reaches the spend counter and the cost metrics: a repair
call that raises, an answer too deep to validate, a schema that cannot validate, an unexpected exception
after a billed call, a fallback. The real handler and DynamoDB (moto), with a scripted model in place of
Bedrock so each exit path is reached on purpose."""

import dataclasses
import functools
import json

import pytest
from botocore.stub import Stubber

from service.dal.model_client import ModelClient, ModelReply
from service.dal.prompt_store import PromptStore
from service.handlers import invoke as handler_module
from service.logic.cost import guardrail_cost_usd, reply_cost_usd
from service.models.errors import ModelOutputInvalid, ModelThrottled
from service.models.prompt import OutputSpec
from service.settings import get_settings

VALID = json.dumps({"category": "billing", "priority": "high", "summary": "Customer was charged twice."})
INVALID = json.dumps({"answer": "not the schema"})
DEEP = "[" * 12_000 + "]" * 12_000  # valid JSON, far past the recursion limit


def reply(text: str, *, stop_reason: str = "end_turn") -> ModelReply:
    return ModelReply(
        text=text,
        stop_reason=stop_reason,
        input_tokens=400,
        output_tokens=60,
        latency_ms=5,
        guardrail_units={"content": 1, "topic": 1, "sensitive_information": 1},
    )


class ScriptedModel:
    """Bedrock as a script: each call takes the next step, a reply or an exception to raise."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.calls: list[tuple[str, object]] = []

    def converse(self, *, model_id, repair=None, **_request):
        self.calls.append((model_id, repair))
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


@pytest.fixture
def scripted(call, monkeypatch):
    """call(body) through the real handler with `model` as Bedrock."""

    def _with(model, **settings):
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        handler_module.get_deps.cache_clear()
        deps = dataclasses.replace(handler_module.get_deps(), model=model)
        get_scripted_deps = functools.lru_cache(maxsize=1)(lambda: deps)  # clearable, as the real one
        monkeypatch.setattr(handler_module, "get_deps", get_scripted_deps)
        return call

    return _with


def cost_of(*replies: ModelReply, model_id: str = "us.amazon.nova-micro-v1:0") -> float:
    settings = get_settings()
    price = settings.model_prices[model_id]
    return sum(
        reply_cost_usd(price, r) + guardrail_cost_usd(r.guardrail_units, settings.guardrail_prices) for r in replies
    )


def counted(spend_table) -> tuple[float, int]:
    items = spend_table.scan()["Items"]
    return (float(items[0]["spend_usd"]), int(items[0]["requests"])) if items else (0.0, 0)


def test_a_paid_first_answer_is_counted_when_its_repair_call_fails(scripted, spend_table, printed):
    # Given a first answer that breaks the schema (billed), and a repair call that is throttled
    first = reply(INVALID)
    model = ScriptedModel(first, ModelThrottled("model us.amazon.nova-micro-v1:0 is throttling requests"))
    call = scripted(model)
    # When the request runs
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund"}})
    # Then the client gets the throttle, and the first answer's cost is on the counter and in the metrics
    assert (status, body["error"]["code"]) == (429, "ModelThrottled")
    assert len(model.calls) == 2 and model.calls[1][1] is not None  # the second call was the repair
    assert counted(spend_table) == (pytest.approx(cost_of(first)), 1)
    (record,), _ = printed()
    assert record["CostUSD"] == [pytest.approx(cost_of(first))]


def test_with_a_fallback_every_billed_call_is_counted_and_in_the_usage(scripted, spend_table):
    # Given a first answer that breaks the schema, a repair that is throttled, and a fallback that answers
    first, fallback = reply(INVALID), reply(VALID)
    model = ScriptedModel(first, ModelThrottled("throttled"), fallback)
    call = scripted(model, LIFTOFF_FALLBACK_MODEL_ID="us.amazon.nova-lite-v1:0")
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund"}})
    # Then the answer is the fallback's and its cost is both calls' (each at its own model's price)
    assert (status, body["fallback_from"]) == (200, "us.amazon.nova-micro-v1:0")
    expected = cost_of(first) + cost_of(fallback, model_id="us.amazon.nova-lite-v1:0")
    assert body["cost_usd"] == pytest.approx(expected)
    assert counted(spend_table) == (pytest.approx(expected), 1)
    assert body["usage"]["input_tokens"] == 800


def test_an_answer_nested_too_deeply_to_validate_is_a_billed_invalid_output(scripted, spend_table, printed):
    # Given answers of valid JSON nested 12,000 levels deep (the first and its repair)
    first, again = reply(DEEP), reply(DEEP)
    call = scripted(ScriptedModel(first, again))
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund"}})
    # Then a 502 ModelOutputInvalid (not a 500), both calls on the counter and counted as an invalid output
    assert (status, body["error"]["code"]) == (502, "ModelOutputInvalid")
    assert "nested too deeply" in body["error"]["message"]
    assert counted(spend_table) == (pytest.approx(cost_of(first, again)), 1)
    (record,), _ = printed()
    assert record["InvalidOutputs"] == [1] and record["CostUSD"] == [pytest.approx(cost_of(first, again))]


def test_a_stored_version_with_a_dangling_ref_never_reaches_the_model(scripted, table, triage, spend_table):
    # Given a version stored with a dangling $ref (before load refused them, or written by hand)
    prompt = triage.prompts[0]
    dangling = {"type": "object", "properties": {"category": {"$ref": "#/$defs/missing"}}}
    broken = prompt.model_copy(update={"output": OutputSpec.model_construct(format="json", schema_=dangling)})
    version = PromptStore(table, triage.name).publish(broken, author="test").version
    model = ScriptedModel(reply(VALID))
    call = scripted(model)
    status, body = call({"prompt_id": "triage", "version": version, "variables": {"message": "refund"}})
    # Then a 500 that names the version and what to do, and no Bedrock call (before: a billed call, then a 500)
    assert (status, body["error"]["code"]) == (500, "Misconfigured")
    assert f"v{version}" in body["error"]["message"] and "publish a fixed version" in body["error"]["message"]
    assert model.calls == [] and counted(spend_table) == (0.0, 0)


def test_a_schema_that_fails_while_validating_is_an_invalid_output_without_repair():
    # Given a schema the validator cannot apply (a dangling $ref that got past the rules)
    from service.logic.output_contract import ask

    dangling = {"type": "object", "properties": {"category": {"$ref": "#/$defs/missing"}}}
    calls = []

    def call(structured, repair):
        calls.append(repair)
        return reply(VALID)

    with pytest.raises(ModelOutputInvalid) as err:
        ask(call, OutputSpec.model_construct(format="json", schema_=dangling, repair_attempts=2), "tool")
    # Then it is refused at once (asking again would fail the same way), the schema named, its error logged
    assert calls == [None]
    assert "schema" in err.value.message and "missing" in err.value.detail


def test_an_unexpected_exception_after_a_billed_call_is_a_500_that_is_still_counted(scripted, spend_table, printed):
    # Given a billed first answer, then a repair call that fails in a way nobody planned for
    first = reply(INVALID)
    call = scripted(ScriptedModel(first, RuntimeError("something nobody planned for")))
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund"}})
    # Then a JSON 500 that says nothing of the exception, and the billed call counted
    assert (status, body["error"]["code"]) == (500, "InternalError")
    assert "planned" not in body["error"]["message"]
    assert counted(spend_table) == (pytest.approx(cost_of(first)), 1)
    (record,), _ = printed()
    assert record["CostUSD"] == [pytest.approx(cost_of(first))] and record["ServerError"] == [1]


def test_a_truncated_json_answer_is_its_own_error_naming_max_tokens_without_a_repair(scripted, spend_table):
    # Given a JSON answer cut off by max_tokens
    first = reply(VALID[:40], stop_reason="max_tokens")
    model = ScriptedModel(first)
    call = scripted(model)
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund"}})
    # Then no paid repair that cannot fit, a 502 that names max_tokens, and the call counted
    assert (status, body["error"]["code"]) == (502, "ModelOutputTruncated")
    assert "max_tokens (200)" in body["error"]["message"]
    assert len(model.calls) == 1
    assert counted(spend_table) == (pytest.approx(cost_of(first)), 1)


def test_a_fixture_triage_message_of_1000_emoji_is_refused_as_truncated_in_one_call(call, spend_table):
    # Given the simulator, which echoes the message into `summary` (past the prompt's 200 output tokens)
    status, body = call({"prompt_id": "triage", "variables": {"message": "\N{GRINNING FACE}" * 1000}})
    # Then the truncation is said plainly, with one billed call
    assert (status, body["error"]["code"]) == (502, "ModelOutputTruncated")
    assert "max_tokens" in body["error"]["message"]
    spend, requests = counted(spend_table)
    assert requests == 1 and spend > 0


ACCOUNT = "123456789012"


def test_error_bodies_carry_no_account_id_or_arn_and_the_log_keeps_the_detail(scripted, printed):
    # Given Bedrock denying access with its usual text (the role's and the profile's ARNs)
    import boto3

    role = f"arn:aws:sts::{ACCOUNT}:assumed-role/liftoff-fixture-triage-prod-invoke/fn"
    profile = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123"
    bedrock = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(bedrock)
    denied = f"User: {role} is not authorized to perform: bedrock:InvokeModel on resource: {profile}"
    stub.add_client_error("converse", "AccessDeniedException", denied, 403)
    stub.activate()
    call = scripted(ModelClient(bedrock, profiles={"us.amazon.nova-micro-v1:0": profile}))
    # When a request comes in
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund"}})
    # Then the caller learns what to do, and nothing about the account; the log line has Bedrock's text
    assert (status, body["error"]["code"]) == (500, "Misconfigured")
    assert ACCOUNT not in json.dumps(body) and "arn:" not in json.dumps(body)
    _, lines = printed()
    (line,) = [x for x in lines if x["message"] == "invoke failed"]
    assert line["detail"] == f"AccessDeniedException: {denied}"


def test_a_schema_valid_answer_nested_too_deeply_to_deliver_is_a_billed_invalid_output(
    scripted, table, triage, spend_table
):
    # Given a version whose schema lets any object through, and answers nested 300 levels deep: valid JSON,
    # valid against the schema, but deeper than the response can be serialised (pydantic stops near 255)
    prompt = triage.prompts[0]
    lax = prompt.model_copy(update={"output": OutputSpec(format="json", schema={"type": "object"})})
    version = PromptStore(table, triage.name).publish(lax, author="test").version
    deep = '{"a":' * 300 + "1" + "}" * 300
    first, again = reply(deep), reply(deep)
    call = scripted(ScriptedModel(first, again))
    # When the request runs
    status, body = call({"prompt_id": "triage", "version": version, "variables": {"message": "refund"}})
    # Then a 502 ModelOutputInvalid after its repair (not a 500 after a paid answer), both calls counted
    assert (status, body["error"]["code"]) == (502, "ModelOutputInvalid")
    assert "nested too deeply" in body["error"]["message"]
    assert counted(spend_table) == (pytest.approx(cost_of(first, again)), 1)
