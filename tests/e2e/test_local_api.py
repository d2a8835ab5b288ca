import json

import pytest

pytestmark = pytest.mark.e2e


def test_happy_path(post):
    status, body = post(
        {"prompt_id": "triage", "variables": {"message": "My package never arrived, tracking is stuck"}}
    )
    assert status == 200
    answer = json.loads(body["output"])
    assert answer["category"] == "shipping"
    assert answer["priority"] in {"low", "medium", "high"}
    assert body["prompt_version"] == 1
    assert body["usage"]["input_tokens"] > 0


def test_pinned_version_and_alias(post):
    assert post({"prompt_id": "triage", "version": 1, "variables": {"message": "hi"}})[0] == 200
    assert post({"prompt_id": "triage", "alias": "live", "variables": {"message": "hi"}})[0] == 200
    status, body = post({"prompt_id": "triage", "alias": "canary", "variables": {"message": "hi"}})
    assert (status, body["error"]["code"]) == (404, "PromptNotFound")


@pytest.mark.parametrize(
    ("body", "raw", "key", "status", "code"),
    [
        (None, "{oops", "default", 400, "BadRequestBody"),
        ({"variables": {"message": "hi"}}, None, "default", 400, "BadRequestBody"),
        ({"prompt_id": "triage", "variables": {"message": "hi"}, "debug": 1}, None, "default", 400, "BadRequestBody"),
        ({"prompt_id": "triage", "variables": {}}, None, "default", 400, "MissingVariable"),
        ({"prompt_id": "triage", "variables": {"message": "hi", "x": "y"}}, None, "default", 400, "UnknownVariable"),
        ({"prompt_id": "triage", "variables": {"message": "x" * 8001}}, None, "default", 400, "VariableTooLong"),
        ({"prompt_id": "nope", "variables": {"message": "hi"}}, None, "default", 404, "PromptNotFound"),
        ({"prompt_id": "triage", "variables": {"message": "hi"}}, None, None, 403, "INVALID_API_KEY"),
        ({"prompt_id": "triage", "variables": {"message": "hi"}}, None, "wrong", 403, "INVALID_API_KEY"),
    ],
)
def test_bad_input_gets_a_json_4xx(post, body, raw, key, status, code):
    got_status, got = post(body, raw=raw, key=key)
    assert (got_status, got["error"]["code"]) == (status, code)
    assert got["error"]["message"]


@pytest.mark.parametrize(
    ("marker", "status", "code"),
    [
        ("[[sim:throttle]]", 429, "ModelThrottled"),
        ("[[sim:error]]", 502, "ModelError"),
        ("[[sim:model-timeout]]", 504, "ModelTimeout"),
        ("[[sim:timeout]]", 504, "ModelTimeout"),
    ],
)
def test_injected_model_faults_get_clear_errors(post, marker, status, code):
    got_status, got = post({"prompt_id": "triage", "variables": {"message": f"help {marker}"}})
    assert (got_status, got["error"]["code"]) == (status, code)
    assert "us.amazon.nova-micro-v1:0" in got["error"]["message"]


def test_a_deeply_nested_body_is_a_400_not_a_dropped_connection(post):
    status, body = post(raw="[" * 20_000 + "]" * 20_000)
    assert (status, body["error"]["code"]) == (400, "BadRequestBody")


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{oops", "[it is not JSON]"),
        ('{"variables": {"message": "hi"}}', "'prompt_id' is a required property"),
        ('{"prompt_id": "triage", "variables": {"message": "hi"}, "debug": 1}', "'debug' was unexpected"),
        ('{"prompt_id": "triage", "variables": {"message": 5}}', "variables.message: 5 is not of type 'string'"),
    ],
)
def test_a_bad_body_is_told_the_route_it_called_and_what_is_wrong(post, raw, says):
    # one text for every bad body said the same for "not JSON" and "extra field", and described /v1/feedback
    status, body = post(raw=raw)
    assert (status, body["error"]["code"]) == (400, "BadRequestBody")
    message = body["error"]["message"]
    assert message.startswith("POST /v1/invoke: the body does not match the route's request schema")
    assert says in message
    assert "feedback" not in message


def test_a_bad_feedback_body_names_the_feedback_route(local):
    import requests

    response = requests.post(
        f"{local.api_url}/v1/feedback",
        data='{"rating": "meh"}',
        headers={"x-api-key": local.api_key, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("POST /v1/feedback: the body does not match")
    assert "invoke" not in message
