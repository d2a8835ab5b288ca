import boto3
import pytest
from botocore.config import Config

from liftoff.local.bedrock_simulator import triage_answer
from service.dal.model_client import ModelClient
from service.models.errors import ModelError, ModelThrottled, ModelTimeout

MODEL = "us.amazon.nova-micro-v1:0"


@pytest.fixture
def client(simulator_url):
    bedrock = boto3.client(
        "bedrock-runtime",
        endpoint_url=simulator_url,
        config=Config(read_timeout=0.5, retries={"mode": "standard", "max_attempts": 1}),
    )
    return ModelClient(bedrock)


def test_converse_round_trip_through_real_boto3(client):
    reply = client.converse(
        model_id=MODEL,
        user_text="<message>refund please, charged twice</message>",
        system="triage",
        inference={"maxTokens": 100},
    )
    assert '"category": "billing"' in reply.text
    assert reply.stop_reason == "end_turn"
    assert reply.input_tokens > 0
    assert reply.output_tokens > 0


def test_max_tokens_truncates(client):
    reply = client.converse(model_id=MODEL, user_text="x" * 400, system=None, inference={"maxTokens": 5})
    assert (reply.stop_reason, reply.output_tokens) == ("max_tokens", 5)


@pytest.mark.parametrize(
    ("marker", "error"),
    [
        ("[[sim:throttle]]", ModelThrottled),
        ("[[sim:error]]", ModelError),
        ("[[sim:model-timeout]]", ModelTimeout),
    ],
)
def test_service_errors_are_mapped(client, marker, error):
    with pytest.raises(error):
        client.converse(model_id=MODEL, user_text=f"hi {marker}", system=None, inference={"maxTokens": 10})


def test_read_timeout_is_a_model_timeout(simulator_url):
    bedrock = boto3.client(
        "bedrock-runtime",
        endpoint_url=simulator_url,
        config=Config(read_timeout=0.2, retries={"mode": "standard", "max_attempts": 1}),
    )
    with pytest.raises(ModelTimeout):
        ModelClient(bedrock).converse(model_id=MODEL, user_text="[[sim:timeout]]", system=None, inference={})


@pytest.mark.parametrize(
    ("message", "category", "priority"),
    [
        ("I was charged twice, refund ASAP", "billing", "high"),
        ("Where is my parcel? tracking shows nothing", "shipping", "medium"),
        ("Question: how do I change my password", "account", "low"),
        ("hello", "other", "medium"),
    ],
)
def test_simulator_rule_is_deterministic(message, category, priority):
    assert triage_answer(message) == triage_answer(message)
    assert f'"category": "{category}"' in triage_answer(message)
    assert f'"priority": "{priority}"' in triage_answer(message)


def test_converse_goes_through_the_models_application_inference_profile():
    # Given a profile for the model / When it is called by model id / Then Bedrock is asked for the profile ARN
    from botocore.stub import ANY, Stubber

    arn = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc123"
    bedrock = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(bedrock)
    stub.add_response(
        "converse",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
            "metrics": {"latencyMs": 5},
        },
        {"modelId": arn, "messages": ANY, "inferenceConfig": ANY},
    )
    with stub:
        reply = ModelClient(bedrock, profiles={MODEL: arn}).converse(
            model_id=MODEL, user_text="hi", system=None, inference={"maxTokens": 5}
        )
    assert reply.text == "ok"


def test_an_unknown_profile_is_not_found_in_the_simulator(simulator_url):
    bedrock = boto3.client("bedrock-runtime", endpoint_url=simulator_url, region_name="us-east-1")
    unknown = "arn:aws:bedrock:us-east-1:000000000000:application-inference-profile/nope"
    with pytest.raises(Exception, match="was not found"):
        ModelClient(bedrock, profiles={MODEL: unknown}).converse(
            model_id=MODEL, user_text="hi", system=None, inference={}
        )
