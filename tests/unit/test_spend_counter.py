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
    return SpendCounter(spend_table, "support-triage", clock=clock)


def test_add_returns_the_running_total_and_counts_requests(counter, spend_table):
    assert counter.spent_today_usd() == 0
    assert counter.add(0.000125) == pytest.approx(0.000125)
    assert counter.add(0.0000091) == pytest.approx(0.0001341)
    assert counter.spent_today_usd() == pytest.approx(0.0001341)
    item = spend_table.get_item(Key={"pk": "support-triage#2026-11-25"})["Item"]
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
                    "Key": {"pk": "support-triage#2026-11-25"},
                    "UpdateExpression": "ADD spend_usd :cost, requests :one SET expires_at = if_not_exists(expires_at, :exp)",
                    "ExpressionAttributeValues": {":cost": Decimal(str(cost)), ":one": 1, ":exp": ANY},
                    "ReturnValues": "UPDATED_NEW",
                },
            )
        mine = SpendCounter(table, "support-triage", clock=clock)
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
