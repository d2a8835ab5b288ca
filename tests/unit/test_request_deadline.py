"""No Bedrock attempt starts that could outlast the invoke function's timeout (service/dal/deadline.py): a repair
turn or the guardrail's check after a slow first answer is refused with a JSON 504, and what was spent is counted,
instead of Lambda cutting the request off with no answer and its billed calls never counted."""

import boto3
import pytest
from botocore.config import Config

from liftoff.local.environments import LambdaContext
from service.dal import deadline
from service.dal.model_client import ModelClient
from service.models.errors import RequestOutOfTime

MODEL = "us.amazon.nova-micro-v1:0"


class Clock:
    """The deadline's clock, standing still until a test sets `now`."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(deadline, "clock", fake)
    return fake


@pytest.fixture
def lambda_left(monkeypatch):
    """Lambda's context says `seconds` are left when the request starts."""

    def _left(seconds: float) -> None:
        monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", staticmethod(lambda: int(seconds * 1000)))

    return _left


@pytest.fixture
def slow_model(monkeypatch, clock):
    """Each Converse or ApplyGuardrail call takes `seconds` of the (fake) clock."""
    from service.dal import model_client as module

    def _slow(seconds: float) -> None:
        for name in ("converse", "check_answer"):
            real = getattr(module.ModelClient, name)

            def timed(self, *args, _real=real, **kwargs):
                try:
                    return _real(self, *args, **kwargs)
                finally:
                    clock.now += seconds

            monkeypatch.setattr(module.ModelClient, name, timed)

    return _slow


def counted(spend_table) -> tuple[int, float]:
    (item,) = spend_table.scan()["Items"]
    return int(item["requests"]), float(item["spend_usd"])


def test_a_repair_turn_that_could_outlast_the_function_is_not_sent_and_the_first_answer_is_counted(
    call, spend_table, printed, lambda_left, slow_model
):
    # Given 10 s left, a first answer that breaks the schema after 7 s, and attempts of up to 2 s (local mode's
    # 1 s connect + 1 s read timeouts): the repair would need 2 s + the 2 s reserve, and 3 s are left
    lambda_left(10)
    slow_model(7)
    # When the request runs / Then the repair is not sent: a JSON 504 that says why, not a request cut off
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund [[sim:invalid-output]]"}})
    assert (status, body["error"]["code"]) == (504, "RequestOutOfTime")
    assert "another Converse attempt, which may take up to 2s, and 3.0s are left" in body["error"]["message"]
    # and the first answer, billed by Bedrock, is on the spend counter and in the cost metric
    requests, spend = counted(spend_table)
    assert requests == 1 and spend > 0
    (record,), _ = printed()
    assert record["CostUSD"] == [pytest.approx(spend)]


def test_the_guardrail_check_of_a_tool_answer_that_could_outlast_the_function_is_not_sent(
    call, spend_table, lambda_left, slow_model
):
    # Given a valid tool answer after 7 s of 10: its ApplyGuardrail check would not fit either
    lambda_left(10)
    slow_model(7)
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund, charged twice"}})
    assert (status, body["error"]["code"]) == (504, "RequestOutOfTime")
    assert "another ApplyGuardrail attempt" in body["error"]["message"]
    assert counted(spend_table)[1] > 0  # the answer it could not check was billed, and is counted


def test_with_time_enough_every_call_is_made(call, lambda_left, slow_model):
    # Given the same 7 s answers and 29 s left: first answer, repair, guardrail check all fit
    lambda_left(29)
    slow_model(7)
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund [[sim:invalid-output]]"}})
    assert (status, body["repairs"]) == (200, 1)


def test_without_a_deadline_every_attempt_is_sent(clock):
    # the golden canary and the logic's own tests set none
    deadline._check(attempt_s=1000, event_name="before-send.bedrock-runtime.Converse")
    with deadline.request_deadline(5):
        with pytest.raises(RequestOutOfTime):
            deadline._check(attempt_s=3.5, event_name="before-send.bedrock-runtime.Converse")
        deadline._check(attempt_s=3.0, event_name="before-send.bedrock-runtime.Converse")  # 3 + 2 s reserve fit
    deadline._check(attempt_s=1000, event_name="before-send.bedrock-runtime.Converse")


def test_a_retry_after_a_timed_out_attempt_is_not_sent_past_the_deadline_and_the_timeout_is_charged(
    simulator_url, clock
):
    # Given a model that never answers in time (0.3 s read timeout, 3 attempts) and a deadline that leaves room for
    # the first attempt only: the clock moves 1 s with the timed-out attempt
    bedrock = boto3.client(
        "bedrock-runtime",
        endpoint_url=simulator_url,
        region_name="us-east-1",
        config=Config(read_timeout=0.3, connect_timeout=0.3, retries={"mode": "standard", "total_max_attempts": 3}),
    )
    bedrock.meta.events.register("needs-retry.bedrock-runtime.Converse", lambda **_: setattr(clock, "now", 1.0))
    client = ModelClient(bedrock)
    with deadline.request_deadline(3.0), pytest.raises(RequestOutOfTime) as err:
        client.converse(model_id=MODEL, user_text="refund [[sim:timeout]]", system=None, inference={})
    # Then the retry is refused, and the timed-out attempt (which Bedrock may have billed) is on the error
    assert err.value.abandoned_attempts == 1
