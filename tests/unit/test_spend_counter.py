from datetime import UTC, date, datetime, timedelta

import pytest

from service.dal.spend_counter import KEEP_DAYS, SpendCounter, SpendCounterUnavailable


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 25, 23, 59, 30, tzinfo=UTC))


@pytest.fixture
def counter(spend_table, clock):
    return SpendCounter(spend_table, "fixture-triage", clock=clock)


def test_add_returns_the_running_total_and_counts_requests(counter, spend_table):
    assert counter.spent_today_usd() == 0
    assert counter.add(0.000125) == pytest.approx(0.000125)
    assert counter.add(0.0000091) == pytest.approx(0.0001341)
    assert counter.spent_today_usd() == pytest.approx(0.0001341)
    item = spend_table.get_item(Key={"pk": "fixture-triage#2026-11-25"})["Item"]
    assert item["requests"] == 2
    # TTL: KEEP_DAYS after the day, set once
    assert item["expires_at"] == int(datetime(2026, 11, 25, tzinfo=UTC).timestamp()) + KEEP_DAYS * 86_400


def test_a_new_utc_day_starts_at_zero(counter, clock):
    counter.add(1.5)
    assert counter.seconds_until_reset() == 30
    clock.now += timedelta(seconds=31)
    assert counter.today() == date(2026, 11, 26)
    assert counter.spent_today_usd() == 0
    counter.add(0.25)
    history = counter.history(3)
    assert [(d.day.isoformat(), d.spend_usd, d.requests) for d in history] == [
        ("2026-11-24", 0, 0),
        ("2026-11-25", 1.5, 1),
        ("2026-11-26", 0.25, 1),
    ]


def test_use_cases_sharing_a_table_do_not_mix(spend_table, clock):
    SpendCounter(spend_table, "a-case", clock=clock).add(1.0)
    assert SpendCounter(spend_table, "b-case", clock=clock).spent_today_usd() == 0


def test_a_missing_table_is_reported_as_unavailable(aws, clock):
    import boto3

    counter = SpendCounter(boto3.resource("dynamodb").Table("nope"), "x", clock=clock)
    with pytest.raises(SpendCounterUnavailable, match="cannot read"):
        counter.spent_today_usd()
    with pytest.raises(SpendCounterUnavailable, match="cannot add"):
        counter.add(0.1)


def test_concurrent_environments_each_send_one_atomic_add_and_never_read(clock):
    """Deployed, many execution environments add to the same day's item at once. What makes that safe
    is that each add is one UpdateItem whose ADD DynamoDB applies atomically, never a read followed by a
    write. A Stubber per environment (its own client, as in Lambda) accepts exactly that request and
    nothing else: a GetItem or PutItem in the add path fails this test. (Summing on a moto server
    would test moto's thread safety, which its ADD does not have.)"""
    from concurrent.futures import ThreadPoolExecutor
    from decimal import Decimal

    import boto3
    from botocore.stub import ANY, Stubber

    cost, writers, adds = 0.000125, 8, 50
    sent: list[Decimal] = []

    def environment(_: int) -> None:
        table = boto3.resource("dynamodb", region_name="us-east-1").Table("spend")
        stub = Stubber(table.meta.client)  # its own client, as each Lambda environment has
        for _ in range(adds):
            stub.add_response(
                "update_item",
                {"Attributes": {"spend_usd": {"N": "1"}}},
                {
                    "TableName": "spend",
                    # the Table resource's form: the stub checks before its serializer runs
                    "Key": {"pk": "fixture-triage#2026-11-25"},
                    "UpdateExpression": "ADD spend_usd :cost, requests :one SET expires_at = if_not_exists(expires_at, :exp)",
                    "ExpressionAttributeValues": {":cost": Decimal(str(cost)), ":one": 1, ":exp": ANY},
                    "ReturnValues": "UPDATED_NEW",
                },
            )
        mine = SpendCounter(table, "fixture-triage", clock=clock)
        with stub:
            for _ in range(adds):
                mine.add(cost)
                sent.append(Decimal(str(cost)))
            stub.assert_no_pending_responses()

    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(environment, range(writers)))
    # every request's cost went out as its own delta; DynamoDB adds deltas atomically, so the total is
    # exactly their sum, whatever the interleaving
    assert len(sent) == writers * adds
    assert sum(sent) == Decimal(str(cost)) * writers * adds


def _stubbed_counter(clock):
    import boto3
    from botocore.stub import Stubber

    table = boto3.resource("dynamodb", region_name="us-east-1").Table("spend")
    return SpendCounter(table, "fixture-triage", clock=clock), Stubber(table.meta.client)


def _expect_add(stub, cost: str, requests: int, total: str = "1") -> None:
    from decimal import Decimal

    from botocore.stub import ANY

    stub.add_response(
        "update_item",
        {"Attributes": {"spend_usd": {"N": total}}},
        {
            "TableName": "spend",
            "Key": {"pk": "fixture-triage#2026-11-25"},
            "UpdateExpression": ANY,
            "ExpressionAttributeValues": {":cost": Decimal(cost), ":one": requests, ":exp": ANY},
            "ReturnValues": "UPDATED_NEW",
        },
    )


def test_an_add_that_certainly_failed_is_carried_into_the_next_one(clock):
    # Given an ADD DynamoDB refused (throttled: a 400, so it was not applied)
    counter, stub = _stubbed_counter(clock)
    stub.add_client_error("update_item", "ProvisionedThroughputExceededException", "slow down", 400)
    _expect_add(stub, "0.003", 2, total="1.003")
    stub.add_response("get_item", {"Item": {"spend_usd": {"N": "2.5"}}})
    with stub:
        with pytest.raises(SpendCounterUnavailable, match="carried"):
            counter.add(0.001)
        # Then the cap check sees it, and the next ADD carries it, as the request it was
        assert counter.carried_usd == pytest.approx(0.001)
        assert counter.add(0.002) == pytest.approx(1.003)
        assert counter.carried_usd == 0
        assert counter.spent_today_usd() == pytest.approx(2.5)
        stub.assert_no_pending_responses()


def test_a_carried_amount_counts_in_the_environments_reading_until_it_is_added(clock):
    counter, stub = _stubbed_counter(clock)
    stub.add_response("get_item", {"Item": {"spend_usd": {"N": "2.5"}}})
    stub.add_client_error("update_item", "ThrottlingException", "slow down", 400)
    with stub:
        assert counter.spent_today_usd() == pytest.approx(2.5)
        with pytest.raises(SpendCounterUnavailable):
            counter.add(0.5)
        assert counter.reading(max_age_s=60) == pytest.approx(3.0)


def test_an_add_that_may_have_applied_is_neither_resent_nor_carried(clock):
    # Given an ADD answered with a 5xx (DynamoDB may have applied it)
    counter, stub = _stubbed_counter(clock)
    stub.add_client_error("update_item", "InternalServerError", "oops", 500)
    _expect_add(stub, "0.002", 1)
    with stub:
        with pytest.raises(SpendCounterUnavailable, match="may have applied"):
            counter.add(0.001)
        # Then it is not counted a second time by the next ADD
        assert counter.carried_usd == 0
        counter.add(0.002)
        stub.assert_no_pending_responses()


def test_a_past_days_carry_is_not_added_to_today(clock):
    counter, stub = _stubbed_counter(clock)
    stub.add_client_error("update_item", "ThrottlingException", "slow down", 400)
    with stub, pytest.raises(SpendCounterUnavailable):
        counter.add(0.001)
    clock.now += timedelta(seconds=31)  # a new UTC day
    stub.add_response("update_item", {"Attributes": {"spend_usd": {"N": "0.002"}}})
    with stub:
        assert counter.add(0.002) == pytest.approx(0.002)
    assert counter.dropped_usd == pytest.approx(0.001)


def test_the_functions_add_is_sent_once_however_slow_dynamodb_is(call, monkeypatch, hanging_server):
    # Given the invoke function's own clients, against a DynamoDB that takes the request and answers late
    from service.handlers import invoke as handler_module

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", hanging_server.url)
    handler_module.get_deps.cache_clear()
    try:
        counter = handler_module.get_deps().spend
        # When a request's cost is added and the answer times out
        with pytest.raises(SpendCounterUnavailable, match="may have applied"):
            counter.add(0.001)
    finally:
        handler_module.get_deps.cache_clear()
    # Then DynamoDB received it once: a retry would apply the non-idempotent ADD a second time
    assert len(hanging_server.connections) == 1
