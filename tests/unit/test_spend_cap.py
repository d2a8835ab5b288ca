"""The spend cap with one DynamoDB call per request: the check before the model call is served from the
environment's own reading (the total the last ADD returned) while it is fresh and far from the cap, and
reads the counter otherwise. Two proofs:

- Stubber: exactly which DynamoDB calls each situation makes (none but the ADD on the normal path).
- A discrete-event simulation of many execution environments behind API Gateway's throttle: every
  request the reading admits would have been admitted by a strongly consistent read at that instant,
  so the overshoot bound is the read's: the requests in flight when the cap is reached x the most
  expensive request.
"""

import heapq
import random
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest
from botocore.stub import ANY, Stubber

from service.dal.spend_counter import SpendCounter
from service.logic.invoke import InvokeDeps, _check_spend_cap
from service.models.errors import SpendCapHit
from service.settings import Settings

DAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
KEY = {"pk": "fixture-triage#2026-11-25"}


def _settings(*, cap: float = 5.0, max_age_s: float = 5.0, unseen: int = 100, criterion: float = 0.0015) -> Settings:
    return Settings(
        use_case="fixture-triage",
        stage="test",
        prompts_table="prompts",
        allowed_model_ids=("m",),
        model_prices={},
        spend_table="spend",
        daily_cap_usd=cap,
        spend_reading_max_age_s=max_age_s,
        spend_unseen_requests=unseen,
        max_cost_per_request_usd=criterion,
    )


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stubbed():
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("spend")
    stub = Stubber(table.meta.client)
    monotonic = Monotonic()
    counter = SpendCounter(table, "fixture-triage", clock=lambda: DAY, monotonic=monotonic)
    with stub:
        yield stub, counter, monotonic
        stub.assert_no_pending_responses()  # and no call beyond the stubbed ones was made (it would raise)


def _expect_read(stub: Stubber, total: str) -> None:
    stub.add_response(
        "get_item",
        {"Item": {"pk": {"S": KEY["pk"]}, "spend_usd": {"N": total}, "requests": {"N": "1"}}},
        {"TableName": "spend", "Key": KEY, "ConsistentRead": True},
    )


def _expect_add(stub: Stubber, cost: float, total: str) -> None:
    stub.add_response(
        "update_item",
        {"Attributes": {"spend_usd": {"N": total}, "requests": {"N": "2"}}},
        {
            "TableName": "spend",
            "Key": KEY,
            "UpdateExpression": ANY,
            "ExpressionAttributeValues": {":cost": Decimal(str(cost)), ":one": 1, ":exp": ANY},
            "ReturnValues": "UPDATED_NEW",
        },
    )


def test_the_normal_path_makes_one_call_the_add(stubbed):
    stub, counter, monotonic = stubbed
    deps = InvokeDeps(_settings(), None, None, counter)
    _expect_read(stub, "1.0")  # a new environment has no reading: it reads once
    _check_spend_cap(deps)
    for total in ("1.001", "1.002", "1.003"):
        _expect_add(stub, 0.001, total)
        counter.add(0.001)  # the request's cost, after its model call
        monotonic.now += 1.0
        _check_spend_cap(deps)  # the next request: no call (the stub would raise on one)


def test_a_stale_reading_is_read_again(stubbed):
    stub, counter, monotonic = stubbed
    deps = InvokeDeps(_settings(max_age_s=5.0), None, None, counter)
    _expect_add(stub, 0.001, "1.0")
    counter.add(0.001)
    monotonic.now += 5.01
    _expect_read(stub, "1.2")
    _check_spend_cap(deps)


def test_near_the_cap_every_check_reads_the_counter(stubbed):
    stub, counter, _ = stubbed
    # 100 unseen requests x $0.0015 = $0.15: a reading of $4.90 is within the margin of a $5 cap
    deps = InvokeDeps(_settings(cap=5.0, unseen=100, criterion=0.0015), None, None, counter)
    _expect_add(stub, 0.001, "4.9")
    counter.add(0.001)
    _expect_read(stub, "4.95")
    _check_spend_cap(deps)  # admitted: a read says $4.95 < $5
    _expect_read(stub, "5.0")
    with pytest.raises(SpendCapHit):
        _check_spend_cap(deps)


def test_the_margin_grows_with_the_dearest_request_seen(stubbed):
    stub, counter, _ = stubbed
    deps = InvokeDeps(_settings(cap=5.0, unseen=100, criterion=0.0015), None, None, counter)
    _expect_add(stub, 0.02, "3.5")  # a request 13x the criterion: 100 of those would be $2
    counter.add(0.02)
    _expect_read(stub, "3.5")
    _check_spend_cap(deps)  # $3.50 + $2.00 >= $5: read


def test_a_reading_at_the_cap_refuses_without_a_call(stubbed):
    stub, counter, _ = stubbed
    deps = InvokeDeps(_settings(cap=5.0), None, None, counter)
    _expect_add(stub, 0.001, "5.0001")
    counter.add(0.001)
    with pytest.raises(SpendCapHit) as refused:
        _check_spend_cap(deps)  # the counter only grows within a day: no read needed to refuse
    assert refused.value.headers["Retry-After"]


def test_a_new_utc_day_reads_the_new_days_counter():
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("spend")
    now = {"t": DAY.replace(hour=23, minute=59, second=59)}
    counter = SpendCounter(table, "fixture-triage", clock=lambda: now["t"], monotonic=Monotonic())
    deps = InvokeDeps(_settings(cap=5.0), None, None, counter)
    with Stubber(table.meta.client) as stub:
        _expect_add(stub, 0.001, "5.0")
        counter.add(0.001)
        now["t"] = DAY.replace(day=26, hour=0, minute=0, second=1)  # yesterday's reading says nothing of today
        stub.add_response(
            "get_item",
            {"Item": {"pk": {"S": "fixture-triage#2026-11-26"}, "spend_usd": {"N": "0"}}},
            {"TableName": "spend", "Key": {"pk": "fixture-triage#2026-11-26"}, "ConsistentRead": True},
        )
        _check_spend_cap(deps)  # served: a new day
        stub.assert_no_pending_responses()


# -- the bound, by simulation ------------------------------------------------------------------------


class SharedTable:
    """DynamoDB's side of the counter for the simulation: one item, atomic ADD, consistent reads."""

    def __init__(self) -> None:
        self.total = Decimal(0)
        self.reads = 0
        self.adds = 0

    def get_item(self, Key, ConsistentRead):
        self.reads += 1
        return {"Item": {"spend_usd": self.total, "requests": self.adds}}

    def update_item(self, ExpressionAttributeValues, **_kwargs):
        self.adds += 1
        self.total += ExpressionAttributeValues[":cost"]
        return {"Attributes": {"spend_usd": self.total}}


def _simulate(seed: int, *, rate: float, burst: int, max_age_s: float, timeout_s: float, cap: float, dearest: float):
    """API Gateway's token bucket admits requests; each goes to an idle environment or a new one; a
    request checks the cap when it starts and adds its cost when it ends. Returns what happened."""
    rng = random.Random(seed)
    table = SharedTable()
    now = {"t": 0.0}
    unseen = (
        int(burst + rate * (max_age_s + timeout_s)) + 1
    )  # liftoff/foundation/function_env.py::spend_unseen_requests
    settings = _settings(cap=cap, max_age_s=max_age_s, unseen=unseen, criterion=dearest)
    idle: list[SpendCounter] = []
    events: list[tuple[float, int, str, object]] = []
    sequence = 0
    tokens, last_refill = float(burst), 0.0
    in_flight = 0
    in_flight_when_crossed = None  # requests still running when the total first reached the cap
    admitted_from_reading = wrongly_admitted = refused = served = 0
    t = 0.0
    while t < 3 * cap / (rate * dearest * 0.5):  # long enough to reach the cap and stay there
        t += rng.expovariate(rate * 3)  # clients send 3x what the throttle allows
        heapq.heappush(events, (t, sequence := sequence + 1, "arrive", None))
    while events:
        t, _, kind, payload = heapq.heappop(events)
        now["t"] = t
        if kind == "end":
            counter, cost = payload
            counter.add(cost)
            in_flight -= 1
            if in_flight_when_crossed is None and table.total >= Decimal(str(cap)):
                in_flight_when_crossed = in_flight
            idle.append(counter)
            continue
        tokens = min(burst, tokens + (t - last_refill) * rate)
        last_refill = t
        if tokens < 1:
            continue  # 429 from API Gateway: never reaches a function
        tokens -= 1
        counter = idle.pop() if idle else SpendCounter(table, "sim", clock=lambda: DAY, monotonic=lambda: now["t"])
        reads_before = table.reads
        truth = table.total
        try:
            _check_spend_cap(InvokeDeps(settings, None, None, counter))
        except SpendCapHit:
            refused += 1
            idle.append(counter)
            continue
        if table.reads == reads_before:
            admitted_from_reading += 1
            wrongly_admitted += truth >= Decimal(str(cap))  # a consistent read would have refused it
        served += 1
        in_flight += 1
        duration = rng.choice([rng.uniform(0.2, 1.5), rng.uniform(0.2, 1.5), rng.uniform(0.2, timeout_s)])
        cost = Decimal(str(round(rng.uniform(0.2, 1.0) * dearest, 7)))
        heapq.heappush(events, (t + duration, sequence := sequence + 1, "end", (counter, cost)))
    return {
        "total": float(table.total),
        "served": served,
        "refused": refused,
        "from_reading": admitted_from_reading,
        "wrongly_admitted": wrongly_admitted,
        "calls_per_request": (table.reads + table.adds) / served,
        "in_flight_when_crossed": in_flight_when_crossed,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_simulated_traffic_never_gets_past_the_cap_more_than_a_read_would(seed):
    cap, dearest = 5.0, 0.0015
    run = _simulate(seed, rate=10, burst=20, max_age_s=5.0, timeout_s=26, cap=cap, dearest=dearest)
    assert run["refused"] > 0  # the cap was reached
    assert run["wrongly_admitted"] == 0  # every request a reading admitted, a read would have admitted
    # the bound the docs state: the requests in flight when the cap is reached (and the one that reached
    # it) x the most expensive request
    assert run["in_flight_when_crossed"] is not None
    assert cap <= run["total"] <= cap + (run["in_flight_when_crossed"] + 1) * dearest
    # and the point of it: far from the cap, the ADD is the only call
    assert run["from_reading"] / run["served"] > 0.8
    assert run["calls_per_request"] < 1.25
