import json

import pytest
from jsonschema import Draft4Validator
from pydantic import ValidationError

from liftoff.local.environments import LambdaContext
from liftoff.local.local_api import proxy_event, proxy_result_headers
from service.handlers import invoke as handler_module
from service.models.invoke import InvokeRequest, invoke_request_schema
from service.settings import get_settings


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
        {"prompt_id": "triage", "alias": "live", "version": 1},
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
    schema_ok = Draft4Validator(invoke_request_schema(65_536)).is_valid(document)
    try:
        InvokeRequest.model_validate(document)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert schema_ok == model_ok


def test_one_emf_record_with_two_dimensions_and_one_log_line(call, printed):
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund me, jane@example.com"}})
    assert status == 200
    emf, logs = printed()
    (record,) = emf
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Liftoff"
    assert directive["Dimensions"] == [["UseCase", "Stage"]]
    assert (record["UseCase"], record["Stage"]) == ("fixture-triage", "local")
    names = {m["Name"] for m in directive["Metrics"]}
    assert names == {
        "Requests",
        "Latency",
        "ModelLatency",
        "InputTokens",
        "OutputTokens",
        "CostUSD",
        "SpendTodayUSD",
    }
    assert record["CostUSD"] == [body["cost_usd"]]  # Powertools writes each metric as a list of values
    # high-cardinality values are properties of the record, not dimensions
    assert (record["PromptVersion"], record["ModelId"], record["RequestId"]) == (1, body["model_id"], "req-1")
    (line,) = [log for log in logs if log.get("message") == "invoke ok"]
    for key in ("request_id", "use_case", "prompt_id", "prompt_version", "model_id", "cost_usd", "latency_ms"):
        assert key in line, key
    assert line["status"] == 200
    assert "prompt_text" not in line  # log_prompts is off in the shipped config
    assert "jane@example.com" not in json.dumps(logs)


@pytest.mark.parametrize(
    ("message", "error_class", "code"),
    [
        ("[[sim:throttle]]", "Throttled", "ModelThrottled"),
        ("[[sim:error]]", "ModelError", "ModelError"),
        ("[[sim:model-timeout]]", "ModelError", "ModelTimeout"),
    ],
)
def test_errors_are_counted_by_class(call, printed, message, error_class, code):
    status, _ = call({"prompt_id": "triage", "variables": {"message": message}})
    assert status >= 400
    (record,), _ = printed()
    assert (record["Errors"], record[error_class], record["ErrorCode"]) == ([1], [1], code)


def test_a_form_body_gets_415_saying_to_send_json(call, table):
    event = proxy_event(
        method="POST",
        path="/v1/invoke",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body='{"prompt_id": "triage", "variables": {"message": "hi"}}',
        request_id="req-form",
        stage="t",
    )
    result = handler_module.lambda_handler(event, LambdaContext())
    error = json.loads(result["body"])["error"]
    assert (result["statusCode"], error["code"]) == (415, "UnsupportedMediaType")
    assert "Content-Type: application/json" in error["message"]
    assert error["request_id"] == "req-form"


def test_a_bad_request_counts_as_client_error(call, printed):
    call(None, raw="{not json")
    (record,), _ = printed()
    assert (record["Errors"], record["ClientError"]) == ([1], [1])


def test_prompt_and_output_are_logged_redacted_when_enabled(call, printed, monkeypatch):
    monkeypatch.setenv("LIFTOFF_LOG_PROMPTS", "true")
    get_settings.cache_clear()
    status, _ = call({"prompt_id": "triage", "variables": {"message": "card 4111 1111 1111 1111, mail a@b.io"}})
    assert status == 200
    _, logs = printed()
    (line,) = [log for log in logs if log.get("message") == "invoke ok"]
    assert "card [CARD], mail [EMAIL]" in line["prompt_text"]
    assert line["output_text"]
    assert "4111" not in json.dumps(logs)


def test_spend_counter_adds_every_cost_and_the_cap_refuses_with_429(call, spend_table, monkeypatch):
    costs = []
    for message in ("refund please", "login broken", "parcel lost"):
        status, body = call({"prompt_id": "triage", "variables": {"message": message}})
        assert status == 200
        costs.append(body["cost_usd"])
    (item,) = spend_table.scan()["Items"]
    assert float(item["spend_usd"]) == pytest.approx(sum(costs), rel=1e-12)
    assert item["requests"] == 3

    # a cap below what is already spent: the next request is refused before the model is called
    monkeypatch.setenv("LIFTOFF_DAILY_CAP_USD", str(sum(costs) / 2))
    get_settings.cache_clear()
    handler_module.get_deps.cache_clear()
    event = proxy_event(
        method="POST",
        path="/v1/invoke",
        headers={},
        body=json.dumps({"prompt_id": "triage", "variables": {"message": "one more"}}),
        request_id="req-cap",
        stage="t",
    )
    result = handler_module.lambda_handler(event, LambdaContext())
    assert result["statusCode"] == 429
    error = json.loads(result["body"])["error"]
    assert error["code"] == "SpendCapHit"
    assert "daily cap" in error["message"]
    assert 0 < int(proxy_result_headers(result)["Retry-After"]) <= 86_400
    assert spend_table.scan()["Items"][0]["requests"] == 3  # a refused request costs nothing


def test_an_unavailable_spend_counter_does_not_take_the_api_down(call, spend_table, printed):
    spend_table.delete()
    status, _ = call({"prompt_id": "triage", "variables": {"message": "refund please"}})
    assert status == 200
    (record,), logs = printed()
    assert record["SpendCounterErrors"] == [1, 1]  # not read before, not added after
    assert "SpendTodayUSD" not in record
    warnings = [log["message"] for log in logs if log.get("level") == "WARNING"]
    assert "spend cap not checked: counter unavailable" in warnings


def test_a_failing_model_falls_back_and_says_so(call, printed, monkeypatch):
    monkeypatch.setenv("LIFTOFF_FALLBACK_MODEL_ID", "us.amazon.nova-lite-v1:0")
    get_settings.cache_clear()
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund me [[sim:down=nova-micro]]"}})
    assert status == 200
    assert (body["model_id"], body["fallback_from"]) == ("us.amazon.nova-lite-v1:0", "us.amazon.nova-micro-v1:0")
    # priced as the model that answered: Nova Lite, $0.00006 / 1K in, $0.00024 / 1K out
    usage = body["usage"]
    assert body["cost_usd"] == pytest.approx(
        (usage["input_tokens"] * 0.00006 + usage["output_tokens"] * 0.00024) / 1000
    )
    (record,), logs = printed()
    assert record["Fallbacks"] == [1]
    assert any(log.get("message") == "model failed, using the fallback" for log in logs)


def test_without_a_fallback_the_model_error_stands(call):
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund me [[sim:down=nova-micro]]"}})
    assert (status, body["error"]["code"]) == (502, "ModelError")


def test_an_unreachable_model_endpoint_is_a_clear_502_fast(call, monkeypatch):
    import socket
    import time

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{port}")
    get_settings.cache_clear()
    handler_module.get_deps.cache_clear()
    started = time.perf_counter()
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund"}})
    assert (status, body["error"]["code"]) == (502, "ModelError")
    assert "unreachable" in body["error"]["message"]
    assert time.perf_counter() - started < 10


def test_a_body_nested_thousands_of_levels_deep_is_a_400(call):
    # Given a JSON array nested past the parser's recursion limit (it reaches the handler if a gateway lets it)
    deep = "[" * 20_000 + "]" * 20_000  # 40 KB: under the body limit, far past the recursion limit
    # When it is sent / Then a 400 with a JSON body, not a 500 or a dropped connection
    status, body = call(None, raw=deep)
    assert (status, body["error"]["code"]) == (400, "BadRequestBody")
    assert "nested too deeply" in body["error"]["message"]


def test_the_handler_module_imports_only_what_every_request_needs():
    """Cold start: the X-Ray SDK (tracing: sdk only), Powertools' idempotency (Idempotency-Key only),
    its event handler (not used) and jsonschema (json prompts, on first use) stay out of the import."""
    import subprocess
    import sys

    probe = (
        "import sys, service.handlers.invoke; "
        "heavy = ['aws_xray_sdk', 'aws_lambda_powertools.utilities.idempotency', "
        "'aws_lambda_powertools.event_handler', 'jsonschema']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="lambdas")
    assert done.stdout.strip() == "[]"


def test_tracing_sdk_wraps_the_handler_in_powertools_tracer(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert handler_module._entry("active") is handler_module._handle
    assert handler_module._entry("off") is handler_module._handle
    assert handler_module._entry("sdk") is not handler_module._handle  # Tracer's capture_lambda_handler


def test_an_unknown_route_is_a_json_404(call):
    status, body = call({"prompt_id": "triage"}, path="/v1/other")
    assert status == 404
    assert body["error"]["code"] == "NotFound"
