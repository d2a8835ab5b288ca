import boto3
import pytest
from moto import mock_aws

from liftoff.local.bedrock_simulator import start_simulator
from liftoff.local.runtime import create_prompts_table, create_spend_table
from liftoff.usecases import load_use_case
from service.dal.prompt_store import PromptStore

TABLE = "prompts-test"
SPEND_TABLE = "spend-test"
USE_CASE = "support-triage"


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def table(aws):
    create_prompts_table(boto3.client("dynamodb"), TABLE)
    return boto3.resource("dynamodb").Table(TABLE)


@pytest.fixture
def spend_table(aws):
    create_spend_table(boto3.client("dynamodb"), SPEND_TABLE)
    return boto3.resource("dynamodb").Table(SPEND_TABLE)


@pytest.fixture
def store(table):
    return PromptStore(table, USE_CASE)


@pytest.fixture(scope="session")
def triage():
    return load_use_case(USE_CASE)


@pytest.fixture(scope="session")
def simulator_url():
    server, url = start_simulator()
    yield url
    server.shutdown()
