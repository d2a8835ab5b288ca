"""Local mode's moto server: concurrent ADDs to one spend counter item lose none, as in DynamoDB."""

import threading
from datetime import UTC, datetime

import boto3
import pytest
from moto.dynamodb.models.dynamo_type import DynamoType

from liftoff.local.moto_server import serving
from liftoff.local.runtime import REGION, create_spend_table
from service.dal.spend_counter import SpendCounter

HOLD_S = 2.0  # how long the first ADD waits for a second one to compute its sum alongside


@pytest.fixture
def moto_url():
    with serving() as url:
        yield url


def _counter(url: str) -> SpendCounter:
    # one session a thread, as each execution environment has its own client
    dynamodb = boto3.session.Session().resource(
        "dynamodb", endpoint_url=url, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )
    return SpendCounter(
        dynamodb.Table("spend"), "fixture-triage", clock=lambda: datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    )


def test_two_concurrent_adds_to_one_item_both_count(moto_url, monkeypatch):
    create_spend_table(
        boto3.client(
            "dynamodb",
            endpoint_url=moto_url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        ),
        "spend",
    )
    # Given moto's ADD (read the number, add, write it back) held after its first sum until a second ADD
    # has summed too: what a thread switch between the two does, made certain
    first, second_summed, add = threading.Event(), threading.Event(), DynamoType.__add__

    def held_add(self, other):
        total = add(self, other)
        if not first.is_set():
            first.set()
            second_summed.wait(HOLD_S)
        else:
            second_summed.set()
        return total

    monkeypatch.setattr(DynamoType, "__add__", held_add)
    counters = [_counter(moto_url), _counter(moto_url)]
    costs = [0.00081, 0.00079]

    # When two environments add their request's cost at once
    held = threading.Thread(target=counters[0].add, args=(costs[0],))
    held.start()
    assert first.wait(30), "the first ADD never reached moto"
    counters[1].add(costs[1])
    held.join()

    # Then the day's item counts both requests and both costs (without one request at a time in moto, the
    # second ADD's spend was overwritten by the first's: requests 2, spend one request short)
    day = counters[1].day(counters[1].today())
    assert day.requests == 2
    assert day.spend_usd == pytest.approx(sum(costs), rel=1e-12)
