import json
import socket
import sys
import threading

import boto3
import pytest
from moto import mock_aws

from liftoff.foundation.usecases import load_use_case
from liftoff.local.bedrock_simulator import SimulatorConfig, start_simulator
from liftoff.local.environments import LambdaContext
from liftoff.local.local_api import proxy_event, proxy_result_headers
from liftoff.local.runtime import (
    capture_table_name,
    create_capture_table,
    create_feedback_secret,
    create_idempotency_table,
    create_prompts_table,
    create_spend_table,
    feedback_secret_name,
    handler_environment,
    simulator_profiles,
)
from service.dal.feedback_key import feedback_key
from service.dal.prompt_store import PromptStore
from service.handlers import invoke as handler_module
from service.handlers.prompt_sync import sync_prompts
from service.settings import get_settings

TABLE = "prompts-test"
SPEND_TABLE = "spend-test"
IDEMPOTENCY_TABLE = "idempotency-test"
USE_CASE = "fixture-triage"


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
    server, url = start_simulator(config=SimulatorConfig(profiles=simulator_profiles()))
    yield url
    server.shutdown()


@pytest.fixture
def feedback_resources(aws, triage):
    """The capture table and the feedback key of local mode, in moto."""
    create_capture_table(boto3.client("dynamodb"), capture_table_name(triage.name))
    create_feedback_secret(boto3.client("secretsmanager"), feedback_secret_name(triage.name))
    feedback_key.cache_clear()
    yield boto3.resource("dynamodb").Table(capture_table_name(triage.name))
    feedback_key.cache_clear()


@pytest.fixture
def call(table, spend_table, triage, simulator_url, monkeypatch, feedback_resources):
    """The real handler, with DynamoDB from moto and Bedrock from the simulator."""
    create_idempotency_table(boto3.client("dynamodb"), IDEMPOTENCY_TABLE)
    env = handler_environment(
        triage,
        table=TABLE,
        spend_table=SPEND_TABLE,
        dynamodb_url="",
        bedrock_url=simulator_url,
        idempotency_table=IDEMPOTENCY_TABLE,
    )
    env.pop("AWS_ENDPOINT_URL_DYNAMODB")  # moto's in-process mock, not a server
    env.pop("AWS_ENDPOINT_URL_SECRETS_MANAGER")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    handler_module.get_deps.cache_clear()
    handler_module.get_idempotent_invoke.cache_clear()
    handler_module.get_capture_store.cache_clear()
    sync_prompts(PromptStore(table, triage.name), [p.model_dump(mode="json") for p in triage.prompts], message="t")

    def _call(
        body,
        raw: str | None = None,
        headers: dict | None = None,
        with_headers: bool = False,
        request_context: dict | None = None,
        path: str = "/v1/invoke",
    ):
        payload = raw if raw is not None else json.dumps(body)
        event = proxy_event(
            method="POST", path=path, headers=headers or {}, body=payload, request_id="req-1", stage="t"
        )
        event["requestContext"].update(request_context or {})
        result = handler_module.lambda_handler(event, LambdaContext())
        if with_headers:
            return result["statusCode"], json.loads(result["body"]), proxy_result_headers(result)
        return result["statusCode"], json.loads(result["body"])

    yield _call
    get_settings.cache_clear()
    handler_module.get_deps.cache_clear()
    handler_module.get_idempotent_invoke.cache_clear()


@pytest.fixture
def printed(capsys):
    """What the handler prints from now on, split into EMF records and log lines. The Powertools
    Logger keeps the stdout it was created with, so point it at the one pytest captures."""

    class CurrentStdout:  # pytest swaps sys.stdout between setup and call: look it up at each write
        def write(self, text):
            return sys.stdout.write(text)

        def flush(self):
            sys.stdout.flush()

    handler = handler_module.logger.registered_handler
    previous, handler.stream = handler.stream, CurrentStdout()  # not setStream: it flushes the old stream

    def _read() -> tuple[list[dict], list[dict]]:
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        return [r for r in records if "_aws" in r], [r for r in records if "_aws" not in r]

    yield _read
    handler.stream = previous


class HangingServer:
    """Accepts TCP connections and never answers (a hung DynamoDB connection)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.connections = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def hanging_server():
    server = HangingServer()
    yield server
    server.close()
