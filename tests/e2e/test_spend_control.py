"""The daily spend cap through the local API: the counter equals what the responses cost, holds
under concurrent requests, and refuses requests once the cap is reached."""

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from tests.e2e.conftest import SPEND_READING_MAX_AGE_S

pytestmark = pytest.mark.e2e


def test_summed_cost_of_the_responses_equals_the_counter(post, counter):
    before = counter.day(counter.today())
    costs = []
    for i in range(5):
        status, body = post({"prompt_id": "triage", "variables": {"message": f"refund order {i}, charged twice"}})
        assert status == 200
        costs.append(body["cost_usd"])
    after = counter.day(counter.today())
    assert after.spend_usd - before.spend_usd == pytest.approx(sum(costs), rel=1e-9)
    assert after.requests - before.requests == 5


def test_concurrent_clients_through_the_api_lose_no_update(local, counter):
    before = counter.day(counter.today())
    headers = {"x-api-key": local.api_key, "Content-Type": "application/json"}

    def one(i: int) -> float:
        body = {"prompt_id": "triage", "variables": {"message": f"login fails on device {i}"}}
        response = requests.post(local.invoke_url, json=body, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["cost_usd"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        costs = list(pool.map(one, range(40)))
    after = counter.day(counter.today())
    assert after.requests - before.requests == 40
    assert after.spend_usd - before.spend_usd == pytest.approx(sum(costs), rel=1e-9)


def test_cap_reached_refuses_with_429_and_a_retry_after(local, post, counter):
    cap = 5.0  # budget.daily_cap_usd of fixture-triage
    table = counter._table
    key = {"pk": f"{local.use_case}#{counter.today().isoformat()}"}
    spent = counter.spent_today_usd()
    # Given today's spend at the cap (as if a day of traffic had spent it)
    table.update_item(Key=key, UpdateExpression="ADD spend_usd :d", ExpressionAttributeValues={":d": Decimal(str(cap))})
    time.sleep(SPEND_READING_MAX_AGE_S + 0.1)  # the function's own reading of the counter ages out
    try:
        # When a request comes in / Then it is refused before the model is called
        response = requests.post(
            local.invoke_url,
            json={"prompt_id": "triage", "variables": {"message": "hello"}},
            headers={"x-api-key": local.api_key},
            timeout=30,
        )
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "SpendCapHit"
        assert "daily cap is $5" in response.json()["error"]["message"]
        assert 0 < int(response.headers["Retry-After"]) <= 86_400
        assert counter.spent_today_usd() == pytest.approx(spent + cap)  # a refused request costs nothing
    finally:
        table.update_item(
            Key=key, UpdateExpression="ADD spend_usd :d", ExpressionAttributeValues={":d": Decimal(str(-cap))}
        )
    # and below the cap again (only a test lowers the counter: in a day it only grows), requests are served
    time.sleep(SPEND_READING_MAX_AGE_S + 0.1)
    assert post({"prompt_id": "triage", "variables": {"message": "hello"}})[0] == 200
