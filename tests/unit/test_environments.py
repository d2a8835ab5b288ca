"""Local mode's execution environments behave like Lambda's: one request at a time each, a new one
(with a cold start) only when all are busy, throttled at the limit, idle ones stopped, a dead one
replaced."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from liftoff.local.environments import EnvironmentFailed, EnvironmentPool, Throttled

HANDLER = "tests.unit.pool_handlers.handler"


@pytest.fixture
def pool():
    pools = []

    def make(**kwargs) -> EnvironmentPool:
        pools.append(EnvironmentPool(handler_path=HANDLER, **{"max_environments": 3, **kwargs}))
        return pools[-1]

    yield make
    for made in pools:
        made.close()


def _pid(result: dict) -> int:
    return json.loads(result["body"])["pid"]


def test_requests_one_after_another_reuse_one_warm_environment(pool):
    environments = pool()
    pids = {_pid(environments.invoke({})) for _ in range(5)}
    assert len(pids) == 1
    stats = environments.stats()
    assert (stats.cold_starts, stats.environments, stats.invocations) == (1, 1, 5)
    assert stats.cold_start_ms[0] > 0


def test_concurrent_requests_get_environments_of_their_own_up_to_the_limit(pool):
    environments = pool(max_environments=3)
    with ThreadPoolExecutor(max_workers=3) as threads:
        pids = set(threads.map(lambda _: _pid(environments.invoke({"sleep": 1.0})), range(3)))
    assert len(pids) == 3  # never two requests in one environment at once
    assert environments.stats().cold_starts == 3


def test_beyond_the_limit_a_request_is_throttled(pool):
    environments = pool(max_environments=1)
    with ThreadPoolExecutor(max_workers=1) as threads:
        busy = threads.submit(environments.invoke, {"sleep": 1.5})
        time.sleep(0.5)
        while environments.stats().cold_starts == 0:  # until the first one is up and serving
            time.sleep(0.1)
        with pytest.raises(Throttled):
            environments.invoke({})
        busy.result()
    assert environments.stats().throttles == 1
    environments.invoke({})  # free again: served


def test_idle_environments_are_stopped(pool):
    environments = pool(idle_timeout_s=0.5)
    environments.invoke({})
    deadline = time.monotonic() + 10
    while environments.stats().environments and time.monotonic() < deadline:
        time.sleep(0.2)
    assert environments.stats().environments == 0
    environments.invoke({})  # a new environment, a new cold start
    assert environments.stats().cold_starts == 2


def test_an_environment_that_dies_is_replaced(pool):
    environments = pool()
    with pytest.raises(EnvironmentFailed):
        environments.invoke({"exit": True})
    assert environments.stats().environments == 0
    assert environments.invoke({})["statusCode"] == 200


def test_each_invocation_sees_the_functions_timeout_count_down(pool):
    # Given environments of a function with a 12 s timeout
    environments = pool(timeout_s=12)
    # When a request takes 0.3 s before it asks / Then it sees what is left of the 12 s, as Lambda's context says
    left_ms = json.loads(environments.invoke({"sleep": 0.3})["body"])["left_ms"]
    assert 11_000 < left_ms <= 11_700
    # and the next invocation starts from 12 s again
    assert json.loads(environments.invoke({})["body"])["left_ms"] > 11_900
