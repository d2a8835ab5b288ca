"""What the handler does when the model or DynamoDB misbehave: attempts counted as configured, a JSON
504 inside the time budget, client errors never sent to the fallback, timed-out attempts charged,
failures that cost money counted in the cost metrics, DynamoDB hangs cut short."""

import time
from decimal import Decimal

import boto3
import pytest

from liftoff.foundation.config import ModelsConfig
from liftoff.local.bedrock_simulator import SimulatorConfig, start_simulator
from liftoff.local.runtime import simulator_profiles
from service.dal import dynamodb
from service.dal.model_client import ModelClient
from service.handlers import invoke as handler_module
from service.logic.cost import abandoned_attempt_cost_usd
from service.logic.render import render_prompt
from service.settings import get_settings

READ_TIMEOUT_S = 0.3


@pytest.fixture
def sim():
    config = SimulatorConfig(timeout_s=2.0, profiles=simulator_profiles())
    server, url = start_simulator(config=config)
    yield config, url
    server.shutdown()


@pytest.fixture
def faulty_call(call, sim, monkeypatch):
    """The handler, pointed at a simulator of its own (to count the calls it gets), short read timeout."""
    _, url = sim
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    monkeypatch.setenv("LIFTOFF_BEDROCK_READ_TIMEOUT_S", str(READ_TIMEOUT_S))
    get_settings.cache_clear()
    handler_module.get_deps.cache_clear()
    return call


def spent(spend_table) -> tuple[Decimal, int]:
    items = spend_table.scan()["Items"]
    return (items[0]["spend_usd"], int(items[0]["requests"])) if items else (Decimal(0), 0)


def test_a_hung_model_gets_exactly_max_attempts_and_a_json_504_inside_the_budget(faulty_call, sim, triage):
    # Given fixture-triage's max_attempts (3) and a model that never answers
    config, _ = sim
    models = triage.config.models
    budget = ModelsConfig(
        default=models.default,
        allowed=models.allowed,
        timeout_seconds=READ_TIMEOUT_S,
        connect_timeout_seconds=models.connect_timeout_seconds,
        max_attempts=models.max_attempts,
    ).model_budget_seconds
    # When a request comes in
    started = time.perf_counter()
    status, body = faulty_call({"prompt_id": "triage", "variables": {"message": "refund [[sim:timeout]]"}})
    elapsed = time.perf_counter() - started
    # Then the model saw max_attempts attempts, not one more, and the client got our JSON 504 in time
    assert config.calls == models.max_attempts
    assert (status, body["error"]["code"]) == (504, "ModelTimeout")
    assert elapsed < budget, (elapsed, budget)


def test_timed_out_attempts_are_charged_at_a_pessimistic_estimate(faulty_call, sim, spend_table, triage, printed):
    # Given a model that never answers (each abandoned attempt may still be billed by Bedrock, guardrail included)
    from liftoff.local.guardrail_rules import GuardrailRules

    config, _ = sim
    config.guardrail = GuardrailRules.from_config(triage.config.guardrail)  # as local mode: trace with text units
    message = "refund [[sim:timeout]]"
    status, _ = faulty_call({"prompt_id": "triage", "variables": {"message": message}})
    assert status == 504
    # Then each attempt is charged: input from the rendered text, output at max_tokens, and the guardrail's
    # text units of both at every priced policy
    settings = get_settings()
    prompt = triage.prompts[0]
    rendered = render_prompt(prompt, {"message": message})
    one = abandoned_attempt_cost_usd(
        triage.prices[prompt.model_id],
        prompt_chars=len(rendered.user_text) + len(rendered.system or ""),
        max_tokens=prompt.inference.max_tokens,
        guardrail_per_unit=settings.guardrail_prices,
    )
    spend, requests = spent(spend_table)
    assert requests == 1
    assert float(spend) == pytest.approx(triage.config.models.max_attempts * one, rel=1e-6)
    # and the cost metrics see it, so the daily-spend alarm does
    (record,), lines = printed()
    (line,) = [x for x in lines if x["message"] == "invoke failed"]
    assert record["CostUSD"] == [pytest.approx(float(spend))] and record["SpendTodayUSD"] == [
        pytest.approx(float(spend))
    ]
    assert line["abandoned_attempts"] == 3 and line["error_code"] == "ModelTimeout"
    # and an abandoned attempt is never charged less than the same message costs when answered (the guardrail
    # is most of it: before, three abandoned attempts were charged less than one answered call)
    status, body = faulty_call({"prompt_id": "triage", "variables": {"message": "refund"}})
    assert status == 200 and body["cost_usd"] > 10 * abandoned_attempt_cost_usd(
        triage.prices[prompt.model_id], prompt_chars=len(rendered.user_text), max_tokens=0
    )  # the answered call's guardrail units were priced
    assert one >= body["cost_usd"]


@pytest.mark.parametrize(
    ("marker", "status", "code"),
    [
        ("[[sim:too-long]]", 400, "ModelRejectedInput"),
        ("[[sim:no-access]]", 500, "Misconfigured"),
        ("[[sim:not-found]]", 500, "Misconfigured"),
    ],
)
def test_a_client_error_from_bedrock_is_not_a_502_and_never_reaches_the_fallback(
    faulty_call, sim, monkeypatch, printed, marker, status, code
):
    # Given a fallback model configured
    config, _ = sim
    monkeypatch.setenv("LIFTOFF_FALLBACK_MODEL_ID", "us.amazon.nova-lite-v1:0")
    get_settings.cache_clear()
    # When Bedrock refuses the request itself
    answer, body = faulty_call({"prompt_id": "triage", "variables": {"message": f"refund {marker}"}})
    # Then the client is told what is wrong, the model was asked once and the fallback never
    assert (answer, body["error"]["code"]) == (status, code)
    assert config.calls == 1
    (record,), _ = printed()
    assert "Fallbacks" not in record
    if status == 400:
        assert "Input is too long" in body["error"]["message"]
        assert record["ClientError"] == [1]  # not a 5xx: the 5xx alarm does not see a client's long input
    else:
        assert "liftoff preflight" in body["error"]["message"]


def test_a_server_error_still_falls_back(faulty_call, monkeypatch):
    monkeypatch.setenv("LIFTOFF_FALLBACK_MODEL_ID", "us.amazon.nova-lite-v1:0")
    get_settings.cache_clear()
    status, body = faulty_call({"prompt_id": "triage", "variables": {"message": "refund [[sim:down=nova-micro]]"}})
    assert status == 200 and body["fallback_from"] == "us.amazon.nova-micro-v1:0"


def test_a_truncated_answer_says_so(faulty_call, table, triage):
    # Given a text version of the prompt that allows 5 output tokens (a JSON one would be refused as invalid)
    from service.dal.prompt_store import PromptStore
    from service.models.prompt import OutputSpec

    prompt = triage.prompts[0]
    short = prompt.model_copy(
        update={"inference": prompt.inference.model_copy(update={"max_tokens": 5}), "output": OutputSpec()}
    )
    version = PromptStore(table, triage.name).publish(short, author="test").version
    # When it answers / Then the client is told the answer is cut short
    status, body = faulty_call({"prompt_id": "triage", "version": version, "variables": {"message": "refund"}})
    assert (status, body["stop_reason"], body["truncated"]) == (200, "max_tokens", True)
    status, body = faulty_call({"prompt_id": "triage", "variables": {"message": "refund"}})
    assert (status, body["stop_reason"], body["truncated"]) == (200, "end_turn", False)


def test_an_answer_withheld_by_the_models_filter_is_a_billed_422(faulty_call, spend_table, printed):
    status, body = faulty_call({"prompt_id": "triage", "variables": {"message": "refund [[sim:content-filtered]]"}})
    assert (status, body["error"]["code"]) == (422, "ModelContentFiltered")
    spend, requests = spent(spend_table)
    assert requests == 1 and spend > 0  # the input was processed and billed
    (record,), _ = printed()
    assert record["CostUSD"] == [pytest.approx(float(spend))]


def test_text_blocks_are_separate_paragraphs():
    from botocore.stub import ANY, Stubber

    bedrock = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(bedrock)
    stub.add_response(
        "converse",
        {
            "output": {
                "message": {"role": "assistant", "content": [{"text": "First part."}, {"text": "Second part."}]}
            },
            "stopReason": "end_turn",
            "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7},
            "metrics": {"latencyMs": 5},
        },
        {"modelId": "m", "messages": ANY, "inferenceConfig": ANY},
    )
    with stub:
        reply = ModelClient(bedrock).converse(model_id="m", user_text="hi", system=None, inference={"maxTokens": 9})
    assert reply.text == "First part.\nSecond part."


def test_a_hung_dynamodb_reaches_the_serve_anyway_path_in_seconds(call, monkeypatch, hanging_server):
    # Given the function's own DynamoDB client (its timeouts), against an endpoint that never answers
    from service.dal.spend_counter import SpendCounterUnavailable
    from service.models.errors import RegistryUnavailable

    server = hanging_server
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
        handler_module.get_deps.cache_clear()
        deps = handler_module.get_deps()
        # When the spend counter and the registry are read / Then each gives up within its short budget
        # (botocore's default would wait 60 s per attempt and hit the Lambda timeout first)
        budget = dynamodb.TOTAL_ATTEMPTS * (dynamodb.CONNECT_TIMEOUT_S + dynamodb.READ_TIMEOUT_S) + 1.0
        started = time.perf_counter()
        with pytest.raises(SpendCounterUnavailable):
            deps.spend.spent_today_usd()
        assert time.perf_counter() - started < budget
        started = time.perf_counter()
        with pytest.raises(RegistryUnavailable):
            deps.resolver.resolve("triage", alias="live", version=None, request_id="r")
        assert time.perf_counter() - started < budget
    finally:
        handler_module.get_deps.cache_clear()
