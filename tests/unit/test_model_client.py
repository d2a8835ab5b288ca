import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from liftoff.local.bedrock_simulator import triage_answer
from service.dal.model_client import ModelClient
from service.models.errors import Misconfigured, ModelError, ModelRejectedInput, ModelThrottled, ModelTimeout

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
    with pytest.raises(Misconfigured) as err:
        ModelClient(bedrock, profiles={MODEL: unknown}).converse(
            model_id=MODEL, user_text="hi", system=None, inference={}
        )
    # Bedrock's text (quoting the profile) is for the log; the caller is told what to do
    assert "was not found" in err.value.detail and unknown not in err.value.message


ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/liftoff-fixture-triage-prod-invoke/fn"
PROFILE_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123"


@pytest.mark.parametrize(
    ("code", "status", "message", "error_type"),
    [
        (
            "AccessDeniedException",
            403,
            f"User: {ROLE_ARN} is not authorized to perform: bedrock:InvokeModel on resource: {PROFILE_ARN}",
            Misconfigured,
        ),
        ("InternalServerException", 500, f"Internal failure while invoking {PROFILE_ARN}", ModelError),
        (
            "ValidationException",
            400,
            f"Invocation of model ID {PROFILE_ARN} in account {ACCOUNT} failed: input is too long",
            ModelRejectedInput,
        ),
    ],
)
def test_bedrocks_error_text_goes_to_the_detail_never_the_message(code, status, message, error_type):
    # Given Bedrock answering with an error whose text names the account, the role and the profile
    from botocore.stub import Stubber

    bedrock = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(bedrock)
    stub.add_client_error("converse", service_error_code=code, service_message=message, http_status_code=status)
    # When the model is called
    with stub, pytest.raises(error_type) as err:
        ModelClient(bedrock, profiles={MODEL: PROFILE_ARN}).converse(
            model_id=MODEL, user_text="hi", system=None, inference={}
        )
    # Then what the caller sees names neither, and the log's detail keeps Bedrock's text
    assert ACCOUNT not in err.value.message and "arn:" not in err.value.message
    assert err.value.detail == f"{code}: {message}"
    if error_type is ModelRejectedInput:  # what is wrong with the input is still said
        assert "input is too long" in err.value.message


def test_an_unreachable_endpoint_does_not_quote_its_url():
    # Given an endpoint URL that holds the profile's ARN (botocore puts the model id in the path)
    class Unreachable:
        def converse(self, **request):
            raise EndpointConnectionError(endpoint_url=f"https://bedrock-runtime/model/{request['modelId']}/converse")

    with pytest.raises(ModelError) as err:
        ModelClient(Unreachable(), profiles={MODEL: PROFILE_ARN}).converse(
            model_id=MODEL, user_text="hi", system=None, inference={}
        )
    assert "unreachable" in err.value.message and ACCOUNT not in err.value.message
    assert PROFILE_ARN in err.value.detail


def test_a_timed_out_attempt_is_still_counted_when_the_next_attempts_cannot_connect():
    # Given an endpoint that takes the first connection and never answers, then stops listening
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    held = []

    def take_one_then_close():
        conn, _ = listener.accept()
        held.append(conn)
        listener.close()  # later attempts are refused: EndpointConnectionError

    threading.Thread(target=take_one_then_close, daemon=True).start()
    bedrock = boto3.client(
        "bedrock-runtime",
        endpoint_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
        region_name="us-east-1",
        config=Config(read_timeout=0.3, connect_timeout=0.3, retries={"mode": "standard", "total_max_attempts": 3}),
    )
    try:
        # When the model is called (a read timeout, then two refused connections)
        with pytest.raises(ModelError) as err:
            ModelClient(bedrock).converse(model_id=MODEL, user_text="hi", system=None, inference={})
    finally:
        for conn in held:
            conn.close()
    # Then the abandoned attempt, which Bedrock may have run and billed, is still on the error
    assert err.value.abandoned_attempts == 1
    assert "unreachable" in err.value.message


def test_an_answer_too_deep_for_botocore_to_parse_is_an_invalid_output_charged_as_one_attempt():
    # Given Bedrock answering with a tool input nested 12,000 levels deep (botocore's JSON parser gives up)
    import http.server
    import threading

    from service.models.errors import ModelOutputInvalid

    deep = '{"a":' * 12_000 + "1" + "}" * 12_000
    body = (
        '{"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"answer","input":'
        + deep
        + '}}]}},"stopReason":"tool_use","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}'
    ).encode()

    class Deep(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Deep)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        bedrock = boto3.client(
            "bedrock-runtime",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        # When it is called / Then a billed invalid output (its usage unreadable: charged as one attempt), not a 500
        with pytest.raises(ModelOutputInvalid) as err:
            ModelClient(bedrock).converse(model_id=MODEL, user_text="hi", system=None, inference={})
    finally:
        server.shutdown()
    assert err.value.abandoned_attempts == 1 and "nested too deeply" in err.value.message
