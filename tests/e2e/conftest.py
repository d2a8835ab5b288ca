import os

import boto3
import pytest
import requests

from liftoff.local import runtime
from service.dal.spend_counter import SpendCounter

USE_CASE = "fixture-triage"
SPEND_READING_MAX_AGE_S = 0.5


@pytest.fixture(scope="session")
def local():
    """Local mode as a user runs it (`liftoff local up`), stopped at the end of the session."""
    # promotions must show at once in these tests, not after the production cache TTL
    os.environ["LIFTOFF_LOCAL_PROMPT_CACHE_TTL_S"] = "0"
    # the cap tests move the counter behind the function's back: its reading must age out quickly
    os.environ["LIFTOFF_LOCAL_SPEND_READING_MAX_AGE_S"] = str(SPEND_READING_MAX_AGE_S)
    runtime.down(USE_CASE)  # a local mode started by hand may have another TTL
    state = runtime.up(USE_CASE)
    yield state
    runtime.down()  # this one and any other use case a test started


@pytest.fixture
def post(local):
    def _post(body=None, *, raw: str | None = None, key: str | None = "default", request_id: str | None = None):
        headers = {"Content-Type": "application/json"}
        if request_id:
            headers["x-request-id"] = request_id
        if key is not None:
            headers["x-api-key"] = local.api_key if key == "default" else key
        data = raw if raw is not None else requests.compat.json.dumps(body)
        response = requests.post(local.invoke_url, data=data, headers=headers, timeout=30)
        return response.status_code, response.json()

    return _post


@pytest.fixture
def counter(local):
    """The session local mode's spend counter, read as the function reads it."""
    dynamodb = boto3.resource("dynamodb", endpoint_url=local.dynamodb_url, region_name=runtime.REGION)
    return SpendCounter(dynamodb.Table(local.spend_table_name), local.use_case)
