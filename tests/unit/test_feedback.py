"""POST /v1/feedback and opt-in capture, with moto and the simulator: a rating needs the token of a
real answer; captured text is redacted; without capture only ratings are stored."""

import json
import time

import pytest

from liftoff.local.environments import LambdaContext
from liftoff.local.local_api import proxy_event
from service.dal.feedback_key import feedback_key
from service.handlers import feedback as feedback_module
from service.logic.feedback_token import Claims, caller_digest, sign, verify
from service.settings import get_feedback_settings, get_settings

PII = "I am jane.doe@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958: I was charged twice"


@pytest.fixture
def rate(call, feedback_resources):
    get_feedback_settings.cache_clear()
    feedback_module.get_store.cache_clear()
    feedback_module.get_redactor.cache_clear()

    def _rate(body=None, raw: str | None = None, api_key_id: str | None = None):
        event = proxy_event(
            method="POST",
            path="/v1/feedback",
            headers={"Content-Type": "application/json"},
            body=raw if raw is not None else json.dumps(body),
            request_id="fb-1",
            stage="t",
        )
        if api_key_id is not None:
            event["requestContext"]["identity"]["apiKeyId"] = api_key_id
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


def _answer(call, message: str = "I was charged twice for order 1182", headers: dict | None = None) -> dict:
    status, body = call({"prompt_id": "triage", "variables": {"message": message}}, headers=headers)
    assert status == 200, body
    assert body["feedback_token"]
    return body


def _claims(answer: dict, triage) -> Claims:
    return verify(
        feedback_key(f"liftoff-{triage.name}-local-feedback-key"),
        answer["feedback_token"],
        now=int(time.time()),
        max_age_s=86_400,
    )


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
    assert claims.capture_id != claims.request_id and len(claims.capture_id) == 32  # the server's own id
    assert claims.caller == caller_digest("apikey:local-api-key")


def test_with_capture_off_only_the_rating_is_stored(call, rate, feedback_resources, triage):
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
    assert item["pk"] == _claims(answer, triage).capture_id
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
    call, rate, feedback_resources, capture_on, triage
):
    answer = _answer(call, PII)
    correction = {"category": "billing", "priority": "high", "summary": "refund jane.doe@example.com"}
    status, body = rate(
        {"feedback_token": answer["feedback_token"], "rating": "bad", "correction": correction, "comment": "wrong"}
    )
    assert (status, body["captured"]) == (200, True)
    item = feedback_resources.get_item(Key={"pk": _claims(answer, triage).capture_id})["Item"]
    assert item["request_id"] == answer["request_id"]  # the id the caller saw, kept as an attribute
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
    again = feedback_resources.get_item(Key={"pk": _claims(answer, triage).capture_id})["Item"]
    assert again["rating"] == "good" and again["correction"] is None
    assert again["variables"] == item["variables"]  # the capture stays


def test_a_rating_for_a_request_that_never_happened_is_a_404(call, rate, triage):
    answer = _answer(call)
    token = answer["feedback_token"]
    body, signature = token.split(".")
    altered = f"{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    claims = Claims("req-x", "triage", 1, "m", int(time.time()), False, "c" * 32, caller_digest("apikey:local-api-key"))
    foreign = sign(b"not-our-key", claims)
    expired = sign(
        feedback_key(f"liftoff-{triage.name}-local-feedback-key"),
        Claims("req-old", "triage", 1, "m", int(time.time()) - 31 * 86_400, False, "d" * 32, "x"),
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


def _emf_counts(capsys) -> dict:
    """Sum of each Feedback* metric the handler published (use-case level and per version apart)."""
    totals: dict = {}
    for line in capsys.readouterr().out.splitlines():
        if not (line.startswith("{") and "_aws" in line):
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            per_version = any("PromptVersion" in d for d in directive["Dimensions"])
            for metric in directive["Metrics"]:
                if metric["Name"].startswith("Feedback"):
                    value = record[metric["Name"]]
                    key = (metric["Name"], per_version)
                    totals[key] = totals.get(key, 0) + sum(value if isinstance(value, list) else [value])
    return totals


def test_two_requests_with_one_x_request_id_keep_their_own_capture_and_rating(
    call, rate, feedback_resources, capture_on, triage
):
    # Given two callers' requests that send the same x-request-id, both captured
    first = _answer(call, "My parcel never arrived, order 1182", headers={"x-request-id": "same-id"})
    second = _answer(call, "The app crashes when I open settings", headers={"x-request-id": "same-id"})
    assert first["request_id"] == second["request_id"] == "same-id"
    # When each is rated
    assert rate({"feedback_token": first["feedback_token"], "rating": "bad", "correction": "shipping"})[0] == 200
    assert rate({"feedback_token": second["feedback_token"], "rating": "good"})[0] == 200
    # Then there are two items, each with its own text and its own rating, and the client's id as an attribute
    items = {i["pk"]: i for i in feedback_resources.scan()["Items"]}
    one, two = items[_claims(first, triage).capture_id], items[_claims(second, triage).capture_id]
    assert len(items) == 2 and one["request_id"] == two["request_id"] == "same-id"
    assert ("parcel" in one["variables"]["message"], one["rating"]) == (True, "bad")
    assert ("crashes" in two["variables"]["message"], two["rating"]) == (True, "good")


def test_a_capture_is_never_overwritten(feedback_resources):
    # Given a stored capture
    from service.dal.capture_store import CaptureStore, CaptureUnavailable

    store = CaptureStore(feedback_resources)
    store.put({"pk": "c1", "output": "first"})
    # When a second record with the same key is put / Then it is refused and the first stays
    with pytest.raises(CaptureUnavailable):
        store.put({"pk": "c1", "output": "second"})
    assert feedback_resources.get_item(Key={"pk": "c1"})["Item"]["output"] == "first"


def test_harvest_builds_each_case_from_one_request(call, rate, feedback_resources, capture_on, triage, tmp_path):
    # Given two requests with one x-request-id, both rated bad with their own correction
    import shutil

    from liftoff import REPO_ROOT
    from liftoff.evals.harvest import harvest
    from service.dal.capture_store import CaptureStore

    for folder in ("usecases", "prompts", "evals", "pricing"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    first = _answer(call, "Where is my refund for order 7781?", headers={"x-request-id": "dup"})
    second = _answer(call, "I cannot reset my password at all", headers={"x-request-id": "dup"})
    rate({"feedback_token": first["feedback_token"], "rating": "bad", "correction": {"category": "billing"}})
    rate({"feedback_token": second["feedback_token"], "rating": "bad", "correction": {"category": "account"}})
    # When they are harvested
    from datetime import timedelta

    result = harvest(
        CaptureStore(feedback_resources), "fixture-triage", ratings=("bad",), since=timedelta(days=1), root=tmp_path
    )
    # Then each case pairs a request's text with that request's correction
    cases = {c.variables["message"]: c for c in result.written}
    assert len(cases) == 2
    refund = next(c for m, c in cases.items() if "refund" in m)
    password = next(c for m, c in cases.items() if "password" in m)
    assert [c.model_dump(mode="json", exclude_none=True)["equals"] for c in refund.checks] == ["billing"]
    assert [c.model_dump(mode="json", exclude_none=True)["equals"] for c in password.checks] == ["account"]


def test_a_replayed_token_counts_its_rating_once_and_a_change_as_a_change(call, rate, capsys):
    # Given one answer
    answer = _answer(call)
    capsys.readouterr()
    # When its token is posted 25 times with "bad"
    for _ in range(25):
        assert rate({"feedback_token": answer["feedback_token"], "rating": "bad"})[0] == 200
    # Then one bad rating is counted (for the use case and for the prompt version)
    assert _emf_counts(capsys) == {("FeedbackBad", False): 1, ("FeedbackBad", True): 1}
    # When the caller changes their mind / Then the bad rating is taken back and a good one counted
    assert rate({"feedback_token": answer["feedback_token"], "rating": "good"})[0] == 200
    assert _emf_counts(capsys) == {
        ("FeedbackGood", False): 1,
        ("FeedbackGood", True): 1,
        ("FeedbackBad", False): -1,
        ("FeedbackBad", True): -1,
    }


def test_a_token_rated_by_another_caller_is_a_404(call, rate, feedback_resources):
    # Given an answer to the caller with API key id `local-api-key`
    answer = _answer(call)
    # When another API key posts its token / Then it is refused like an unknown token, and nothing is stored
    status, error = rate({"feedback_token": answer["feedback_token"], "rating": "bad"}, api_key_id="someone-else")
    assert (status, error["error"]["code"]) == (404, "RequestNotFound")
    assert feedback_resources.scan()["Items"] == []


@pytest.mark.parametrize("depth", [17, 40, 500, 1_200])
def test_a_deeply_nested_correction_is_a_400(call, rate, feedback_resources, depth):
    # Given a small body whose correction nests `depth` levels (DynamoDB refuses more than 32)
    answer = _answer(call)
    correction = '{"a":' * depth + '"x"' + "}" * depth
    raw = f'{{"feedback_token": "{answer["feedback_token"]}", "rating": "bad", "correction": {correction}}}'
    # When it is posted / Then a JSON 400, and nothing is stored
    status, error = rate(raw=raw)
    assert (status, error["error"]["code"]) == (400, "BadRequestBody")
    assert "nested" in error["error"]["message"]
    assert feedback_resources.scan()["Items"] == []
