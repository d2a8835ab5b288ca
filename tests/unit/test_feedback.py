"""POST /v1/feedback and opt-in capture, with moto and the simulator: a rating needs the token of a
real answer; captured text is redacted; without capture only ratings are stored."""

import json
import time

import pytest

from liftoff.local.environments import LambdaContext
from liftoff.local.local_api import proxy_event
from service.dal.feedback_key import feedback_key
from service.handlers import feedback as feedback_module
from service.logic.feedback_token import Claims, sign, verify
from service.settings import get_feedback_settings, get_settings

PII = "I am jane.doe@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958: I was charged twice"


@pytest.fixture
def rate(call, feedback_resources):
    get_feedback_settings.cache_clear()
    feedback_module.get_store.cache_clear()
    feedback_module.get_redactor.cache_clear()

    def _rate(body=None, raw: str | None = None):
        event = proxy_event(
            method="POST",
            path="/v1/feedback",
            headers={"Content-Type": "application/json"},
            body=raw if raw is not None else json.dumps(body),
            request_id="fb-1",
            stage="t",
        )
        result = feedback_module.lambda_handler(event, LambdaContext())
        return result["statusCode"], json.loads(result["body"])

    yield _rate
    get_feedback_settings.cache_clear()
    feedback_module.get_store.cache_clear()


@pytest.fixture
def capture_on(monkeypatch):
    monkeypatch.setenv("LIFTOFF_CAPTURE_ENABLED", "true")
    monkeypatch.setenv("LIFTOFF_CAPTURE_SAMPLE_RATE", "1.0")
    get_settings.cache_clear()


def _answer(call, message: str = "I was charged twice for order 1182") -> dict:
    status, body = call({"prompt_id": "triage", "variables": {"message": message}})
    assert status == 200, body
    assert body["feedback_token"]
    return body


def test_every_answer_carries_a_token_that_names_it(call, triage):
    answer = _answer(call)
    claims = verify(
        feedback_key(f"liftoff-{triage.name}-local-feedback-key"),
        answer["feedback_token"],
        now=int(time.time()),
        max_age_s=86_400,
    )
    assert (claims.request_id, claims.prompt_id, claims.prompt_version) == (
        answer["request_id"],
        "triage",
        answer["prompt_version"],
    )
    assert claims.captured is False  # capture is off by default


def test_with_capture_off_only_the_rating_is_stored(call, rate, feedback_resources):
    answer = _answer(call, PII)
    status, body = rate({"feedback_token": answer["feedback_token"], "rating": "good"})
    assert status == 200, body
    assert body == {
        "request_id": answer["request_id"],
        "rating": "good",
        "rated_at": body["rated_at"],
        "captured": False,
    }
    (item,) = feedback_resources.scan()["Items"]
    assert set(item) == {
        "pk",
        "rating",
        "rated_at",
        "prompt_id",
        "prompt_version",
        "model_id",
        "correction",
        "comment",
        "expires_at",
    }
    assert "variables" not in item and "output" not in item


def test_a_captured_request_is_stored_redacted_and_a_bad_rating_keeps_the_correction(
    call, rate, feedback_resources, capture_on
):
    answer = _answer(call, PII)
    correction = {"category": "billing", "priority": "high", "summary": "refund jane.doe@example.com"}
    status, body = rate(
        {"feedback_token": answer["feedback_token"], "rating": "bad", "correction": correction, "comment": "wrong"}
    )
    assert (status, body["captured"]) == (200, True)
    item = feedback_resources.get_item(Key={"pk": answer["request_id"]})["Item"]
    stored = json.dumps(item, default=str)
    for raw in ("jane.doe@example.com", "4111 1111 1111 1111", "7946 0958"):
        assert raw not in stored  # emails, cards and phones are never stored raw
    assert "[EMAIL]" in item["variables"]["message"] and "[CARD]" in item["variables"]["message"]
    assert item["rating"] == "bad" and item["correction"]["category"] == "billing"
    assert item["correction"]["summary"] == "refund [EMAIL]"
    assert item["prompt_id"] == "triage" and item["output"]
    # a second rating replaces the first: last write wins, with its time
    status, _ = rate({"feedback_token": answer["feedback_token"], "rating": "good"})
    assert status == 200
    again = feedback_resources.get_item(Key={"pk": answer["request_id"]})["Item"]
    assert again["rating"] == "good" and again["correction"] is None
    assert again["variables"] == item["variables"]  # the capture stays


def test_a_rating_for_a_request_that_never_happened_is_a_404(call, rate, triage):
    answer = _answer(call)
    token = answer["feedback_token"]
    body, signature = token.split(".")
    altered = f"{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    claims = Claims("req-x", "triage", 1, "m", int(time.time()), captured=False)
    foreign = sign(b"not-our-key", claims)
    expired = sign(
        feedback_key(f"liftoff-{triage.name}-local-feedback-key"),
        Claims("req-old", "triage", 1, "m", int(time.time()) - 31 * 86_400, captured=False),
    )
    for forged in (altered, foreign, expired):
        status, error = rate({"feedback_token": forged, "rating": "bad"})
        assert (status, error["error"]["code"]) == (404, "RequestNotFound"), forged
        assert "feedback_token" in error["error"]["message"]


@pytest.mark.parametrize(
    ("body", "raw", "status", "code"),
    [
        (None, "{not json", 400, "ValidationError"),
        ({"rating": "bad"}, None, 400, "ValidationError"),
        ({"feedback_token": "x" * 30 + "." + "y" * 43, "rating": "meh"}, None, 400, "ValidationError"),
        (None, "[" * 16_000 + "]" * 16_000, 400, "BadRequestBody"),
    ],
)
def test_bad_feedback_bodies_get_a_json_400(rate, body, raw, status, code):
    got, error = rate(body, raw=raw)
    assert (got, error["error"]["code"]) == (status, code)
