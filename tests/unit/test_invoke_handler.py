import json

import pytest
from jsonschema import Draft4Validator
from pydantic import ValidationError

from liftoff.local.local_api import LambdaContext, proxy_event
from liftoff.local.runtime import handler_environment
from service.dal.prompt_store import PromptStore
from service.handlers import invoke as handler_module
from service.handlers.prompt_sync import sync_prompts
from service.models.invoke import INVOKE_REQUEST_SCHEMA, InvokeRequest
from service.settings import get_settings

from .conftest import SPEND_TABLE, TABLE


@pytest.fixture
def call(table, spend_table, triage, simulator_url, monkeypatch):
    """The real handler, with DynamoDB from moto and Bedrock from the simulator."""
    env = handler_environment(triage, table=TABLE, spend_table=SPEND_TABLE, dynamodb_url="", bedrock_url=simulator_url)
    env.pop("AWS_ENDPOINT_URL_DYNAMODB")  # moto's in-process mock, not a server
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    handler_module.get_deps.cache_clear()
    sync_prompts(PromptStore(table, triage.name), [p.model_dump(mode="json") for p in triage.prompts], message="t")

    def _call(body, raw: str | None = None):
        payload = raw if raw is not None else json.dumps(body)
        event = proxy_event(method="POST", path="/v1/invoke", headers={}, body=payload, request_id="req-1", stage="t")
        result = handler_module.lambda_handler(event, LambdaContext())
        return result["statusCode"], json.loads(result["body"])

    yield _call
    get_settings.cache_clear()
    handler_module.get_deps.cache_clear()


def test_happy_path_returns_output_usage_and_provenance(call):
    status, body = call({"prompt_id": "triage", "variables": {"message": "I was charged twice, refund now"}})
    assert status == 200
    assert json.loads(body["output"])["category"] == "billing"
    assert body["prompt_id"] == "triage"
    assert body["prompt_version"] == 1
    assert body["model_id"] == "us.amazon.nova-micro-v1:0"
    assert body["request_id"] == "req-1"
    assert body["usage"]["total_tokens"] == body["usage"]["input_tokens"] + body["usage"]["output_tokens"]
    # Nova Micro: $0.000035 / 1K input, $0.00014 / 1K output (pricing/bedrock.yaml)
    expected = (body["usage"]["input_tokens"] * 0.000035 + body["usage"]["output_tokens"] * 0.00014) / 1000
    assert body["cost_usd"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("body", "raw", "status", "code"),
    [
        (None, "{not json", 400, "ValidationError"),
        ({"variables": {}}, None, 400, "ValidationError"),
        ({"prompt_id": "triage", "variables": {"message": "hi"}, "x": 1}, None, 400, "ValidationError"),
        ({"prompt_id": "triage", "variables": {"message": 5}}, None, 400, "ValidationError"),
        (
            {"prompt_id": "triage", "alias": "live", "version": 1, "variables": {"message": "hi"}},
            None,
            400,
            "ValidationError",
        ),
        ({"prompt_id": "triage", "variables": {}}, None, 400, "MissingVariable"),
        ({"prompt_id": "nope", "variables": {"message": "hi"}}, None, 404, "PromptNotFound"),
        ({"prompt_id": "triage", "version": 9, "variables": {"message": "hi"}}, None, 404, "PromptNotFound"),
        ({"prompt_id": "triage", "variables": {"message": "x" * 70_000}}, None, 413, "PayloadTooLarge"),
        ({"prompt_id": "triage", "variables": {"message": "[[sim:throttle]]"}}, None, 429, "ModelThrottled"),
        ({"prompt_id": "triage", "variables": {"message": "[[sim:error]]"}}, None, 502, "ModelError"),
    ],
)
def test_bad_input_and_faults_get_json_errors(call, body, raw, status, code):
    got_status, got = call(body, raw)
    assert (got_status, got["error"]["code"]) == (status, code)
    assert got["error"]["message"]
    assert "Traceback" not in json.dumps(got)


def test_misconfigured_function_says_so_without_a_stack_trace(monkeypatch):
    monkeypatch.delenv("LIFTOFF_PROMPTS_TABLE", raising=False)
    get_settings.cache_clear()
    event = proxy_event(method="POST", path="/v1/invoke", headers={}, body="{}", request_id="r", stage="t")
    result = handler_module.lambda_handler(event, LambdaContext())
    assert result["statusCode"] == 500
    assert "environment variable LIFTOFF_" in json.loads(result["body"])["error"]["message"]
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "document",
    [
        {"prompt_id": "triage"},
        {"prompt_id": "triage", "variables": {"a": "b"}, "version": 2},
        {"prompt_id": "triage", "alias": "canary"},
        {"prompt_id": "Bad Id"},
        {"prompt_id": "triage", "variables": {"a": 1}},
        {"prompt_id": "triage", "version": 0},
        {"prompt_id": "triage", "alias": "UPPER"},
        {"prompt_id": "triage", "other": True},
        {"variables": {}},
        [],
    ],
)
def test_gateway_schema_agrees_with_handler_model(document):
    schema_ok = Draft4Validator(INVOKE_REQUEST_SCHEMA).is_valid(document)
    try:
        InvokeRequest.model_validate(document)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert schema_ok == model_ok
