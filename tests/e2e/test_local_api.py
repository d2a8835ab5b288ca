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
