"""Idempotency-Key: a retried request gets the first answer, without a second model call or charge."""

import pytest

BODY = {"prompt_id": "triage", "variables": {"message": "I was charged twice, refund please"}}


def test_a_retry_with_the_same_key_replays_the_answer_and_is_billed_once(call, spend_table, printed):
    headers = {"Idempotency-Key": "order-1182-refund"}
    first = call(BODY, headers=headers, with_headers=True)
    again = call(BODY, headers=headers, with_headers=True)
    assert first[0] == again[0] == 200
    assert again[1] == first[1]
    assert "Idempotent-Replayed" not in first[2]
    assert again[2]["Idempotent-Replayed"] == "true"
    (item,) = spend_table.scan()["Items"]
    assert item["requests"] == 1
    records = printed()[0]
    assert sum(r.get("Requests", [0])[0] for r in records) == 1  # the replay is not a second request
    assert sum(r.get("IdempotentReplays", [0])[0] for r in records) == 1


def test_the_same_key_with_another_body_is_refused(call):
    headers = {"Idempotency-Key": "order-1182-refund"}
    assert call(BODY, headers=headers)[0] == 200
    other = {**BODY, "variables": {"message": "something else entirely"}}
    status, body = call(other, headers=headers)
    assert (status, body["error"]["code"]) == (422, "IdempotencyKeyReused")


def test_without_a_key_every_call_runs(call, spend_table):
    call(BODY)
    call(BODY)
    assert spend_table.scan()["Items"][0]["requests"] == 2


@pytest.mark.parametrize("key", ["short", "has spaces in it", "x" * 129])
def test_a_malformed_key_is_a_400(call, key):
    status, body = call(BODY, headers={"Idempotency-Key": key})
    assert (status, body["error"]["code"]) == (400, "BadRequest")
    assert "Idempotency-Key" in body["error"]["message"]


def test_a_failed_request_is_not_stored_so_a_retry_runs_again(call):
    headers = {"Idempotency-Key": "retry-after-throttle"}
    throttled = {"prompt_id": "triage", "variables": {"message": "refund [[sim:throttle]]"}}
    assert call(throttled, headers=headers)[0] == 429
    assert call(throttled, headers=headers)[0] == 429  # not 409 "in progress", not a stored error


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"authorizer": {"claims": {"sub": "user-a"}}}, {"authorizer": {"claims": {"sub": "user-b"}}}),
        (
            {"identity": {"userArn": "arn:aws:iam::111111111111:role/a"}},
            {"identity": {"userArn": "arn:aws:iam::111111111111:role/b"}},
        ),
        ({"identity": {"apiKeyId": "key-a"}}, {"identity": {"apiKeyId": "key-b"}}),
    ],
)
def test_the_same_key_from_two_callers_never_shares_an_answer(call, spend_table, first, second):
    # Given two callers (Cognito users, IAM principals or API keys) who send the same key and body
    body = {"prompt_id": "triage", "variables": {"message": "refund please"}}
    headers = {"Idempotency-Key": "shared-key-123"}
    # When both call / Then each gets its own answer: no replay across callers, the model runs twice
    _, _, a = call(body, headers=headers, with_headers=True, request_context=first)
    _, _, b = call(body, headers=headers, with_headers=True, request_context=second)
    assert "Idempotent-Replayed" not in a and "Idempotent-Replayed" not in b
    (item,) = spend_table.scan()["Items"]
    assert item["requests"] == 2
    # and the same caller retrying still gets the replay
    _, _, again = call(body, headers=headers, with_headers=True, request_context=first)
    assert again.get("Idempotent-Replayed") == "true"


def _idempotent(calls: list, answer: dict):
    import json

    import boto3

    from liftoff.local.runtime import create_idempotency_table
    from service.handlers.idempotency import make_idempotent

    create_idempotency_table(boto3.client("dynamodb"), "idempotency-large")

    def run(request: dict) -> dict:  # what the invoke route returns for a JSON prompt (the tool's input as text)
        calls.append(request["key"])
        return {"output": json.dumps(answer, ensure_ascii=False), "output_json": answer, "cost_usd": 0.01}

    return make_idempotent(run, table_name="idempotency-large", expires_after_seconds=3600)


REQUEST = {"key": "apikey:k|summary-of-report-7", "body": {"prompt_id": "summarize"}, "request_id": "r-1"}


def test_a_35000_character_japanese_answer_is_stored_once_as_utf8_and_replayed(aws):
    # Given a JSON summary of 35,000 Japanese characters (105 KB as UTF-8; 420 KB stored twice, \u-escaped)
    import boto3

    from liftoff.local.environments import LambdaContext
    from service.handlers.idempotency import REPLAYED

    answer = {"summary": "要約" * 17_500, "key_points": ["売上は前年比で増加した"]}
    calls: list = []
    invoke = _idempotent(calls, answer)
    # When it is answered, then retried with the same key
    first = invoke(dict(REQUEST), LambdaContext())
    again = invoke(dict(REQUEST), LambdaContext())
    # Then the retry is the stored answer, output_json included, without a second run
    assert calls == [REQUEST["key"]]
    assert again.pop(REPLAYED) is True and again == first
    # and the record holds the answer once, in UTF-8
    (item,) = boto3.resource("dynamodb").Table("idempotency-large").scan()["Items"]
    stored = item["data"]
    assert "要約" in stored and "\\u8981" not in stored
    assert len(stored.encode()) < 110_000


def test_an_answer_too_large_to_store_is_delivered_and_a_retry_runs_again(aws):
    # Given an answer past DynamoDB's 400 KB item limit even stored compactly (150,000 characters, 450 KB)
    from liftoff.local.environments import LambdaContext

    answer = {"summary": "要約" * 75_000, "key_points": []}
    calls: list = []
    invoke = _idempotent(calls, answer)
    # When it is answered / Then the caller gets it (it was billed), not a 503
    first = invoke(dict(REQUEST), LambdaContext())
    assert first["output_json"] == answer
    # and a retry runs again rather than a 409 on a record that never completes
    again = invoke(dict(REQUEST), LambdaContext())
    assert again["output_json"] == answer and calls == [REQUEST["key"]] * 2


def test_a_billed_failure_whose_record_cannot_be_removed_keeps_its_error_and_its_cost(aws):
    # Given an idempotent run that fails after a billed model call (a repair throttled: 429, $0.002 spent),
    # and DynamoDB refusing the removal of its in-progress record
    import boto3
    from botocore.exceptions import ClientError

    from liftoff.local.environments import LambdaContext
    from liftoff.local.runtime import create_idempotency_table
    from service.handlers.idempotency import make_idempotent
    from service.models.errors import ModelThrottled

    client = boto3.client("dynamodb")
    create_idempotency_table(client, "idempotency-flaky")

    def delete_item(**_kwargs):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "brownout"}}, "DeleteItem")

    client.delete_item = delete_item

    def run(_request: dict) -> dict:
        error = ModelThrottled("model m is throttling requests; retry with backoff")
        error.cost_usd = 0.002
        raise error

    invoke = make_idempotent(run, table_name="idempotency-flaky", expires_after_seconds=3600, boto3_client=client)
    # When it is called / Then the caller gets the run's own error, still carrying what it cost (the handler
    # emits CostUSD from it), not a 503 IdempotencyUnavailable that drops both
    with pytest.raises(ModelThrottled) as raised:
        invoke(dict(REQUEST), LambdaContext())
    assert raised.value.cost_usd == 0.002


def test_a_no_context_refusal_is_stored_and_replayed_not_run_and_billed_again(aws):
    # Given a retrieval prompt's no-context refusal as the route returns it: `output` the refusal text (not JSON),
    # `output_json` its JSON form, the Retrieve billed
    import boto3

    from liftoff.local.environments import LambdaContext
    from liftoff.local.runtime import create_idempotency_table
    from service.handlers.idempotency import REPLAYED, make_idempotent

    create_idempotency_table(boto3.client("dynamodb"), "idempotency-refusal")
    refusal = "I could not find this in the company's policies."
    calls: list = []

    def run(request: dict) -> dict:
        calls.append(request["key"])
        return {"output": refusal, "output_json": {"answer": refusal, "citations": []}, "cost_usd": 0.0000025}

    invoke = make_idempotent(run, table_name="idempotency-refusal", expires_after_seconds=3600)
    # When it is answered, then retried with the same key
    first = invoke(dict(REQUEST), LambdaContext())
    again = invoke(dict(REQUEST), LambdaContext())
    # Then the retry is the stored refusal (output_json included), not a second Retrieve billed
    assert calls == [REQUEST["key"]]
    assert again.pop(REPLAYED) is True and again == first
