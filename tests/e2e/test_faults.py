"""Faults through the local API: the API answers with a clear error, within its time budget, and the
spend counter neither loses nor double-counts a request."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = pytest.mark.e2e


def fire(local, messages: list[str], workers: int = 8) -> list[tuple[int, dict, float]]:
    headers = {"x-api-key": local.api_key, "Content-Type": "application/json"}

    def one(message: str):
        started = time.perf_counter()
        response = requests.post(
            local.invoke_url,
            json={"prompt_id": "triage", "variables": {"message": message}},
            headers=headers,
            timeout=60,
        )
        return response.status_code, response.json(), time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, messages))


def test_a_throttling_storm_gets_429s_and_costs_nothing(local, counter):
    before = counter.day(counter.today())
    # few requests: local mode is one execution environment, so each one's retries and backoff queue up
    results = fire(local, [f"refund {i} [[sim:throttle]]" for i in range(4)])
    assert {(status, body["error"]["code"]) for status, body, _ in results} == {(429, "ModelThrottled")}
    after = counter.day(counter.today())
    assert (after.requests, after.spend_usd) == (before.requests, before.spend_usd)


def test_a_burst_outlasted_by_retries_is_counted_once_per_answer(local, counter):
    before = counter.day(counter.today())
    # each text throttles twice, the handler's third attempt answers
    results = fire(local, [f"refund order {i} [[sim:throttle-2]]" for i in range(6)])
    assert {status for status, _, _ in results} == {200}
    after = counter.day(counter.today())
    assert after.requests - before.requests == 6
    assert after.spend_usd - before.spend_usd == pytest.approx(sum(b["cost_usd"] for _, b, _ in results), rel=1e-9)


def test_a_model_that_never_answers_times_out_within_the_budget(local):
    # local mode: 1 s read timeout x max_attempts 3 (LIFTOFF_LOCAL_MODEL_TIMEOUT_S), plus backoff
    ((status, body, elapsed),) = fire(local, ["refund [[sim:timeout]]"], workers=1)
    assert (status, body["error"]["code"]) == (504, "ModelTimeout")
    assert elapsed < 10
