"""Grounded answers through the real invoke handler (issue 23): the fixture project's `fixture-rag` use case,
DynamoDB from moto, and botocore Stubbers in place of Bedrock's two APIs: `bedrock-agent-runtime` Retrieve
and `bedrock-runtime` Converse. Each test scripts what the knowledge base and the model answer and checks
what the client gets, what was asked, what was billed (the spend counter) and what was reported (EMF, log)."""

import dataclasses
import functools
import json
import math
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from liftoff.foundation.function_env import knowledge_environment
from liftoff.foundation.usecases import load_use_case
from liftoff.local.runtime import (
    capture_table_name,
    create_capture_table,
    create_feedback_secret,
    feedback_secret_name,
    handler_environment,
)
from service.dal.feedback_key import feedback_key
from service.dal.knowledge_client import KnowledgeClient
from service.dal.model_client import ModelClient
from service.dal.prompt_store import PromptStore
from service.dal.spend_counter import SpendCounter
from service.handlers import invoke as handler_module
from service.handlers.prompt_sync import sync_prompts
from service.models.invoke import RETRIEVAL_FIELDS
from service.settings import get_settings
from tests.unit.conftest import SPEND_TABLE, TABLE

FIXTURE_PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "project"
KB_ID = "KBFIXTURE1"
BUCKET = "s3://liftoff-fixture-rag-docs"
QUESTION = "What is the daily meal allowance when travelling?"
MODEL = "us.amazon.nova-lite-v1:0"


@pytest.fixture(scope="module")
def rag():
    return load_use_case("fixture-rag", FIXTURE_PROJECT)


def result(name: str, score: float, text: str, **metadata) -> dict:
    """One Retrieve result, in botocore's shape."""
    item = {
        "content": {"text": text, "type": "TEXT"},
        "location": {"type": "S3", "s3Location": {"uri": f"{BUCKET}/{name}"}},
        "score": score,
    }
    if metadata:
        item["metadata"] = metadata
    return item


MEALS_2026 = result(
    "travel-policy-2026.md", 0.82, "Meals are reimbursed up to EUR 45 a day.", effective_date="2026-01-01"
)
MEALS_2024 = result(
    "travel-policy-2024.md", 0.61, "Meals are reimbursed up to EUR 35 a day.", effective_date="2024-01-01"
)
PER_DIEM = result("per-diem-rates.md", 0.45, "Per-diem rates by city: Berlin EUR 45, Paris EUR 50.")
LOW = result("remote-work.txt", 0.12, "Remote work is allowed two days a week.")


def grounding_trace(grounding: float, relevance: float, *, blocked: bool = False, units: int = 2) -> dict:
    """A Converse trace with the contextual grounding filters' assessment (botocore's shape)."""
    action = "BLOCKED" if blocked else "NONE"
    filters = [
        {"type": "GROUNDING", "threshold": 0.75, "score": grounding, "action": action, "detected": grounding < 0.75},
        {"type": "RELEVANCE", "threshold": 0.5, "score": relevance, "action": "NONE", "detected": relevance < 0.5},
    ]
    usage = {
        "topicPolicyUnits": 0,
        "contentPolicyUnits": 1,
        "wordPolicyUnits": 0,
        "sensitiveInformationPolicyUnits": 1,
        "sensitiveInformationPolicyFreeUnits": 0,
        "contextualGroundingPolicyUnits": units,
    }
    assessment = {"contextualGroundingPolicy": {"filters": filters}, "invocationMetrics": {"usage": usage}}
    return {"guardrail": {"outputAssessments": {"guardrail": [assessment]}}}


def tool_answer(answer: dict, *, trace: dict | None = None, tokens=(700, 40)) -> dict:
    """A Converse response whose forced tool carries `answer` (Nova holds JSON by a forced tool)."""
    response = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": "answer", "input": answer}}],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1], "totalTokens": sum(tokens)},
        "metrics": {"latencyMs": 300},
    }
    if trace is not None:
        response["trace"] = trace
    return response


class Bedrock:
    """Stubbed `bedrock-agent-runtime` and `bedrock-runtime` clients, recording every Converse request."""

    def __init__(self):
        self.agent = boto3.client("bedrock-agent-runtime", region_name="us-east-1")
        self.runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
        self.retrieve_stub, self.converse_stub = Stubber(self.agent), Stubber(self.runtime)
        self.converse_requests: list[dict] = []
        self.retrieve_requests: list[dict] = []
        self.check_requests: list[dict] = []
        self.runtime.meta.events.register(
            "before-parameter-build.bedrock-runtime.ApplyGuardrail",
            lambda params, **_: self.check_requests.append(json.loads(json.dumps(params))),
        )
        self.runtime.meta.events.register(
            "before-parameter-build.bedrock-runtime.Converse",
            lambda params, **_: self.converse_requests.append(json.loads(json.dumps(params))),
        )
        self.agent.meta.events.register(
            "before-parameter-build.bedrock-agent-runtime.Retrieve",
            lambda params, **_: self.retrieve_requests.append(json.loads(json.dumps(params))),
        )
        self.retrieve_stub.activate()
        self.converse_stub.activate()

    def retrieves(self, *results: dict, top_k: int = 5, query: str = QUESTION) -> None:
        self.retrieve_stub.add_response(
            "retrieve",
            {"retrievalResults": list(results)},
            {
                "knowledgeBaseId": KB_ID,
                "retrievalQuery": {"text": query},
                "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": top_k}},
            },
        )

    def converses(self, response: dict) -> None:
        self.converse_stub.add_response("converse", response, {k: ANY for k in CONVERSE_PARAMS})

    def checks(self, response: dict) -> None:
        """ApplyGuardrail's answer on the forced tool's answer (Converse's guardrail does not evaluate it)."""
        params = ("guardrailIdentifier", "guardrailVersion", "source", "content")
        self.converse_stub.add_response("apply_guardrail", response, {k: ANY for k in params})

    def user_blocks(self, call: int = 0) -> list[dict]:
        return self.converse_requests[call]["messages"][0]["content"]


CONVERSE_PARAMS = ("modelId", "messages", "inferenceConfig", "toolConfig", "system", "guardrailConfig")


@pytest.fixture
def rag_env(table, spend_table, rag, monkeypatch):
    """The environment of fixture-rag's function (local mode's, plus its knowledge base's), prompts synced."""
    create_capture_table(boto3.client("dynamodb"), capture_table_name(rag.name))
    create_feedback_secret(boto3.client("secretsmanager"), feedback_secret_name(rag.name))
    feedback_key.cache_clear()
    env = handler_environment(rag, table=TABLE, spend_table=SPEND_TABLE, dynamodb_url="", bedrock_url="")
    env.update(knowledge_environment(rag, KB_ID))
    for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"):
        env.pop(name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    handler_module.get_deps.cache_clear()
    handler_module.get_idempotent_invoke.cache_clear()
    sync_prompts(PromptStore(table, rag.name), [p.model_dump(mode="json") for p in rag.prompts], message="t")
    yield monkeypatch
    get_settings.cache_clear()
    handler_module.get_deps.cache_clear()
    feedback_key.cache_clear()


@pytest.fixture
def bedrock():
    return Bedrock()


@pytest.fixture
def ask(rag_env, bedrock, monkeypatch):
    """ask(body) -> (status, body) through the real handler, Bedrock's two APIs stubbed by `bedrock`."""
    from liftoff.local.environments import LambdaContext
    from liftoff.local.local_api import proxy_event

    def _ask(body: dict):
        handler_module.get_deps.cache_clear()
        settings = get_settings()
        deps = dataclasses.replace(
            handler_module.get_deps(),
            model=ModelClient(bedrock.runtime, settings.guardrail, settings.model_profiles),
            knowledge=KnowledgeClient(bedrock.agent),
        )
        monkeypatch.setattr(handler_module, "get_deps", functools.lru_cache(maxsize=1)(lambda: deps))
        event = proxy_event(
            method="POST", path="/v1/invoke", headers={}, body=json.dumps(body), request_id="req-1", stage="t"
        )
        answer = handler_module.lambda_handler(event, LambdaContext())
        return answer["statusCode"], json.loads(answer["body"])

    return _ask


def retrieval_cost(query: str = QUESTION) -> float:
    """What one Retrieve costs at pricing/bedrock.yaml's prices: the query's tokens (3 characters a token,
    rounded up) x Titan V2's price, plus one S3 Vectors query."""
    return math.ceil(len(query) / 3) * 0.00002 / 1000 + 0.0025 / 1000


def counted(spend_table) -> float:
    items = spend_table.scan()["Items"]
    return float(items[0]["spend_usd"]) if items else 0.0


def publish(table, rag, **retrieval) -> int:
    """A version of fixture-rag's prompt with its `retrieval:` changed; its version number."""
    prompt = rag.prompts[0]
    spec = prompt.model_copy(update={"retrieval": prompt.retrieval.model_copy(update=retrieval)})
    return PromptStore(table, rag.name).publish(spec, author="test").version


def test_passages_are_numbered_rendered_with_sources_and_the_cited_ones_returned(ask, bedrock, spend_table, printed):
    # Given three passages at or above min_score (0.4), and an answer citing P1 that the guardrail finds grounded
    bedrock.retrieves(MEALS_2026, MEALS_2024, PER_DIEM)
    bedrock.converses(tool_answer({"answer": "EUR 45 a day.", "citations": ["P1"]}))
    bedrock.checks(apply_guardrail_response(0.92, 0.8))
    # When the question is asked
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then the knowledge base was asked the question for top_k 5 (the stub checks the request's exact shape)
    assert status == 200, body
    bedrock.retrieve_stub.assert_no_pending_responses()
    # and the model saw the passages numbered in rank order, each with its file and effective date
    sources = [b["guardContent"]["text"] for b in bedrock.user_blocks() if "grounding_source" in str(b)]
    assert [s["text"].split("\n")[0] for s in sources] == [
        "[P1] (source: travel-policy-2026.md, effective 2026-01-01)",
        "[P2] (source: travel-policy-2024.md, effective 2024-01-01)",
        "[P3] (source: per-diem-rates.md)",
    ]
    assert sources[0]["text"].endswith("Meals are reimbursed up to EUR 45 a day.")
    # and the answer carries the cited passage only, with its source, score and excerpt
    assert body["output_json"] == {"answer": "EUR 45 a day.", "citations": ["P1"]}
    assert body["citations"] == [
        {
            "id": "P1",
            "source_uri": f"{BUCKET}/travel-policy-2026.md",
            "source": "travel-policy-2026.md",
            "score": 0.82,
            "excerpt": "Meals are reimbursed up to EUR 45 a day.",
        }
    ]
    assert body["retrieval"] == {
        "passages": [
            {
                "id": "P1",
                "source": "travel-policy-2026.md",
                "source_uri": f"{BUCKET}/travel-policy-2026.md",
                "score": 0.82,
            },
            {
                "id": "P2",
                "source": "travel-policy-2024.md",
                "source_uri": f"{BUCKET}/travel-policy-2024.md",
                "score": 0.61,
            },
            {"id": "P3", "source": "per-diem-rates.md", "source_uri": f"{BUCKET}/per-diem-rates.md", "score": 0.45},
        ],
        "top_k": 5,
        "min_score": 0.4,
        "outcome": "answered",
    }
    assert body["grounding"] == {
        "grounding_score": 0.92,
        "relevance_score": 0.8,
        "grounded": True,
        "action": "BLOCK",
        "blocked": False,
    }
    # and the cost holds the model, the guardrail, the Retrieve and the grounding units, each on its line
    settings = get_settings()
    price = settings.model_prices[MODEL]
    model = (700 * price.input_per_1k + 40 * price.output_per_1k) / 1000
    guardrail = settings.guardrail_prices["content"] + settings.guardrail_prices["sensitive_information"]
    grounding = 3 * settings.guardrail_prices["contextual_grounding"]  # apply_guardrail_response's units
    lines = body["cost_lines"]
    assert lines["model"] == pytest.approx(model) and lines["guardrail"] == pytest.approx(guardrail)
    assert lines["grounding"] == pytest.approx(grounding) and grounding > 0
    assert lines["embedding"] + lines["vector_query"] == pytest.approx(retrieval_cost())
    assert body["cost_usd"] == pytest.approx(model + guardrail + grounding + retrieval_cost())
    assert counted(spend_table) == pytest.approx(body["cost_usd"])
    # and the EMF record and the log line report the retrieval and the grounding check
    (record,), lines_logged = printed()
    assert record["Passages"] == [3] and record["NoContext"] == [0] and "RetrievalLatency" in record
    assert record["GroundingScore"] == [0.92] and record["Grounded"] == [1] and record["Ungrounded"] == [0]
    assert record["CostUSD"] == [pytest.approx(body["cost_usd"])]
    (line,) = [x for x in lines_logged if x["message"] == "invoke ok"]
    assert line["passages"] == 3 and line["grounding_score"] == 0.92 and line["relevance_score"] == 0.8
    assert line["grounded"] is True and line["cost_grounding_usd"] == pytest.approx(grounding)
    assert line["cost_embedding_usd"] + line["cost_vector_query_usd"] == pytest.approx(retrieval_cost())


def test_the_grounding_check_gets_the_passages_the_query_and_the_rest_of_the_input(ask, bedrock):
    # Given two passages and a use case whose grounding check is on (BLOCK)
    bedrock.retrieves(MEALS_2026, PER_DIEM)
    bedrock.converses(tool_answer({"answer": "EUR 45.", "citations": ["P1"]}))
    bedrock.checks(apply_guardrail_response(0.9, 0.9))
    status, _ = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    assert status == 200
    request = bedrock.converse_requests[0]
    # Then the guardrail is asked with its trace on, and the user message is made of guardContent blocks:
    # the template's text as guard_content, each passage as grounding_source (once: no copy in a text block),
    # and the query as query
    assert request["guardrailConfig"]["trace"] == "enabled"
    blocks = [b["guardContent"]["text"] for b in bedrock.user_blocks()]
    assert [b["qualifiers"] for b in blocks] == [
        ["guard_content"],
        ["grounding_source"],
        ["grounding_source"],
        ["guard_content"],
        ["query"],
    ]
    assert blocks[0]["text"] == "Policy passages:\n"
    assert QUESTION in blocks[3]["text"] and blocks[3]["text"].startswith("\n\nQuestion:")
    assert blocks[4]["text"] == QUESTION
    # and the model reads the rendered template once, in order: the text around the passages, and the passages
    context = "\n\n".join(b["text"] for b in blocks[1:3])
    rendered = f"Policy passages:\n{context}\n\nQuestion:\n<question>\n{QUESTION}\n</question>\n"
    assert blocks[0]["text"] + context + blocks[3]["text"] == rendered


def test_passages_below_min_score_are_dropped(ask, bedrock):
    # Given one passage above min_score (0.4) and one below
    bedrock.retrieves(MEALS_2026, LOW)
    bedrock.converses(tool_answer({"answer": "EUR 45.", "citations": ["P1"]}))
    bedrock.checks(apply_guardrail_response(0.9, 0.9))
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then only the first reaches the prompt and the response
    assert status == 200
    assert [p["source"] for p in body["retrieval"]["passages"]] == ["travel-policy-2026.md"]
    assert "Remote work" not in json.dumps(bedrock.converse_requests[0])


def test_no_passage_at_min_score_refuses_without_calling_the_model(ask, bedrock, spend_table, printed, rag):
    # Given a knowledge base that finds nothing at min_score (the prompt's no_context: refuse)
    bedrock.retrieves(LOW)
    # When the question is asked
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then the refusal is the answer, no Converse call was made, and only the Retrieve was billed
    refusal = rag.prompts[0].retrieval.refusal
    assert status == 200, body
    assert (body["output"], body["output_json"]) == (refusal, {"answer": refusal, "citations": []})
    assert body["citations"] == [] and body["grounding"] is None
    assert body["retrieval"]["outcome"] == "no_context" and body["retrieval"]["passages"] == []
    assert bedrock.converse_requests == []
    assert body["cost_usd"] == pytest.approx(retrieval_cost())
    assert counted(spend_table) == pytest.approx(retrieval_cost())
    (record,), _ = printed()
    assert record["NoContext"] == [1] and record["Passages"] == [0] and "GroundingScore" not in record


def test_no_context_call_asks_the_model_with_an_empty_context_and_no_grounding_check(ask, bedrock, table, rag):
    # Given a version that calls the model anyway, with its own top_k, and nothing found
    version = publish(table, rag, no_context="call", top_k=2)
    bedrock.retrieves(LOW, top_k=2)
    bedrock.converses(tool_answer({"answer": "The policies do not say.", "citations": []}))
    bedrock.checks(
        {
            "usage": grounding_trace(1, 1)["guardrail"]["outputAssessments"]["guardrail"][0]["invocationMetrics"][
                "usage"
            ]
            | {"contextualGroundingPolicyUnits": 0},
            "action": "NONE",
            "outputs": [],
            "assessments": [],
        }
    )
    status, body = ask({"prompt_id": "answer", "version": version, "variables": {"question": QUESTION}})
    # Then the model is asked (no passage to check against: no guardContent, grounding not checked: the
    # answer's check by the guardrail's output policies carries no grounding source and no query)
    assert status == 200, body
    (check,) = bedrock.check_requests
    assert [b["text"]["qualifiers"] for b in check["content"]] == [["guard_content"]]
    assert body["output_json"]["answer"] == "The policies do not say."
    (block,) = bedrock.user_blocks()
    assert block["text"].startswith("Policy passages:\n\n\nQuestion:")
    assert body["grounding"] is None and body["retrieval"]["outcome"] == "no_context"
    assert body["retrieval"]["top_k"] == 2


def test_a_citation_of_a_passage_not_retrieved_is_repaired_then_refused(ask, bedrock, spend_table, printed):
    # Given an answer citing P7 of two passages, twice (the first answer and its repair)
    bedrock.retrieves(MEALS_2026, PER_DIEM)
    for _ in range(2):
        bedrock.converses(
            tool_answer({"answer": "EUR 45.", "citations": ["P1", "P7"]}, trace=grounding_trace(0.9, 0.9))
        )
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then a 502 ModelOutputInvalid naming the unknown id, after one repair that said which id it was
    assert (status, body["error"]["code"]) == (502, "ModelOutputInvalid"), body
    assert '"P7" is not the id of a retrieved passage (retrieved: P1, P2)' in body["error"]["message"]
    repair = bedrock.converse_requests[1]["messages"][-1]["content"][0]["toolResult"]["content"][0]["text"]
    assert "$.citations[1]" in repair and '"P7"' in repair
    # and both calls and the Retrieve are on the counter
    assert counted(spend_table) > 2 * 0.00004 + retrieval_cost()
    (record,), _ = printed()
    assert record["InvalidOutputs"] == [1] and record["CostUSD"] == [pytest.approx(counted(spend_table))]


def test_an_ungrounded_answer_blocked_by_the_guardrail_is_the_blocked_message_counted_ungrounded(
    ask, bedrock, spend_table, printed, rag
):
    # Given the guardrail's grounding check blocking the answer (score 0.2 below 0.75, action BLOCK)
    bedrock.retrieves(MEALS_2026)
    message = rag.config.guardrail.blocked_output_message
    bedrock.converses(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": message}]}},
            "stopReason": "guardrail_intervened",
            "usage": {"inputTokens": 600, "outputTokens": 30, "totalTokens": 630},
            "metrics": {"latencyMs": 200},
            "trace": grounding_trace(0.2, 0.9, blocked=True),
        }
    )
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then the client gets the configured blocked-output message, as for any guardrail block
    assert (status, body["error"]["code"], body["error"]["message"]) == (422, "GuardrailIntervened", message)
    # and it is counted ungrounded, with its score, and billed (model, guardrail, Retrieve)
    (record,), logged = printed()
    assert record["Ungrounded"] == [1] and record["Grounded"] == [0] and record["GroundingScore"] == [0.2]
    assert record["GuardrailIntervened"] == [1]
    (line,) = [x for x in logged if x["message"] == "invoke failed"]
    assert line["grounded"] is False and line["grounding_blocked"] is True
    assert counted(spend_table) > retrieval_cost() and record["CostUSD"] == [pytest.approx(counted(spend_table))]


def test_an_ungrounded_answer_measured_only_is_answered_and_counted_ungrounded(ask, bedrock, rag_env, printed):
    # Given the check in measure-only mode (NONE): a low grounding score, no block
    rag_env.setenv("LIFTOFF_GROUNDING", "NONE")
    get_settings.cache_clear()
    bedrock.retrieves(MEALS_2026)
    bedrock.converses(tool_answer({"answer": "EUR 90.", "citations": ["P1"]}))
    bedrock.checks(apply_guardrail_response(0.3, 0.9))
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then the answer goes out, marked ungrounded, and the metrics count it
    assert status == 200, body
    assert body["grounding"] == {
        "grounding_score": 0.3,
        "relevance_score": 0.9,
        "grounded": False,
        "action": "NONE",
        "blocked": False,
    }
    (record,), _ = printed()
    assert record["Ungrounded"] == [1] and record["Grounded"] == [0]


def test_retrieve_throttled_is_a_429_and_nothing_is_billed(ask, bedrock, spend_table, printed):
    # Given a knowledge base that throttles
    bedrock.retrieve_stub.add_client_error("retrieve", "ThrottlingException", "Rate exceeded", 429)
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then a 429 RetrievalThrottled in the API's JSON error shape, no model call and nothing counted
    assert (status, body["error"]["code"]) == (429, "RetrievalThrottled")
    assert "retry" in body["error"]["message"] and body["error"]["request_id"] == "req-1"
    assert bedrock.converse_requests == [] and counted(spend_table) == 0.0
    (record,), _ = printed()
    assert record["Throttled"] == [1] and "CostUSD" not in record


@pytest.mark.parametrize(
    "code,status", [("ResourceNotFoundException", 404), ("AccessDeniedException", 403), ("ValidationException", 400)]
)
def test_a_missing_denied_or_refused_knowledge_base_is_a_502_retrieval_failed(ask, bedrock, printed, code, status):
    account = "123456789012"
    bedrock.retrieve_stub.add_client_error(
        "retrieve", code, f"arn:aws:bedrock:us-east-1:{account}:knowledge-base/{KB_ID} says no", status
    )
    http, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then a 502 that says what to check, with nothing of the account; the log keeps AWS's text
    assert (http, body["error"]["code"]) == (502, "RetrievalFailed")
    assert account not in json.dumps(body) and bedrock.converse_requests == []
    _, logged = printed()
    (line,) = [x for x in logged if x["message"] == "invoke failed"]
    assert line["detail"].startswith(code)


def test_a_model_failure_after_retrieval_still_counts_the_retrieval(ask, bedrock, spend_table, printed):
    # Given passages found, then a model that throttles (fixture-rag has no fallback)
    bedrock.retrieves(MEALS_2026)
    bedrock.converse_stub.add_client_error("converse", "ThrottlingException", "Too many requests", 429)
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then the client gets the model's 429, and the Retrieve's cost is on the counter and in the metrics
    assert (status, body["error"]["code"]) == (429, "ModelThrottled")
    assert counted(spend_table) == pytest.approx(retrieval_cost())
    (record,), logged = printed()
    assert record["CostUSD"] == [pytest.approx(retrieval_cost())] and record["Passages"] == [1]
    (line,) = [x for x in logged if x["message"] == "invoke failed"]
    assert line["cost_embedding_usd"] + line["cost_vector_query_usd"] == pytest.approx(retrieval_cost())


def test_the_spend_cap_refuses_before_retrieve(ask, bedrock, rag_env, spend_table):
    # Given today's spend at the cap
    rag_env.setenv("LIFTOFF_DAILY_CAP_USD", "0.01")
    get_settings.cache_clear()
    SpendCounter(spend_table, "fixture-rag").add(0.02)
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then a 429 SpendCapHit, and the knowledge base was never asked (no Retrieve billed)
    assert (status, body["error"]["code"]) == (429, "SpendCapHit")
    assert bedrock.retrieve_requests == [] and bedrock.converse_requests == []
    assert counted(spend_table) == pytest.approx(0.02)


def test_a_missing_question_is_a_400_before_retrieve(ask, bedrock, spend_table):
    status, body = ask({"prompt_id": "answer", "variables": {"question": "  "}})
    assert (status, body["error"]["code"]) == (400, "MissingVariable")
    assert bedrock.retrieve_requests == [] and counted(spend_table) == 0.0


def test_a_prompt_without_retrieval_answers_exactly_the_fields_it_answered_before(call):
    # Given fixture-triage's prompt (no retrieval:), on the simulator
    status, body = call({"prompt_id": "triage", "variables": {"message": "I was charged twice"}})
    # Then none of the retrieval fields is in its body: existing clients see what they saw
    assert status == 200
    assert set(body) & set(RETRIEVAL_FIELDS) == set()
    assert set(body) == {
        "output",
        "output_json",
        "repairs",
        "stop_reason",
        "truncated",
        "usage",
        "model_id",
        "prompt_id",
        "prompt_version",
        "request_id",
        "cost_usd",
        "latency_ms",
        "model_latency_ms",
        "guardrail",
        "fallback_from",
        "feedback_token",
    }


def test_a_retrieval_prompt_on_a_deployment_without_a_knowledge_base_is_misconfigured_before_any_call(
    ask, bedrock, rag_env, spend_table
):
    # Given a function whose environment names no knowledge base
    rag_env.delenv("LIFTOFF_KNOWLEDGE_BASE_ID")
    get_settings.cache_clear()
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then a 500 that says what to add, and neither API was called
    assert (status, body["error"]["code"]) == (500, "Misconfigured")
    assert "knowledge:" in body["error"]["message"]
    assert bedrock.retrieve_requests == [] and bedrock.converse_requests == [] and counted(spend_table) == 0.0


def apply_guardrail_response(grounding: float, relevance: float, *, blocked_with: str | None = None) -> dict:
    """ApplyGuardrail's answer (botocore's shape): the grounding filters, their units, and the action."""
    (assessment,) = grounding_trace(grounding, relevance, blocked=blocked_with is not None, units=3)["guardrail"][
        "outputAssessments"
    ]["guardrail"]
    return {
        "usage": assessment["invocationMetrics"]["usage"],
        "action": "GUARDRAIL_INTERVENED" if blocked_with else "NONE",
        "outputs": [{"text": blocked_with}] if blocked_with else [],
        "assessments": [assessment],
    }


def expect_answer_check(bedrock, answer: dict, response: dict, sources: list[str]) -> None:
    content = [{"text": {"text": s, "qualifiers": ["grounding_source"]}} for s in sources]
    content += [
        {"text": {"text": QUESTION, "qualifiers": ["query"]}},
        {"text": {"text": json.dumps(answer), "qualifiers": ["guard_content"]}},
    ]
    settings = get_settings()
    identifier, version = settings.guardrail
    bedrock.converse_stub.add_response(
        "apply_guardrail",
        response,
        {"guardrailIdentifier": identifier, "guardrailVersion": version, "source": "OUTPUT", "content": content},
    )


def test_a_tool_answer_the_converse_guardrail_did_not_assess_is_checked_with_apply_guardrail(ask, bedrock, spend_table):
    # Given a Nova answer as a forced tool's input, which the Converse call's guardrail does not evaluate (no
    # grounding assessment in its trace), and ApplyGuardrail finding it grounded
    bedrock.retrieves(MEALS_2026)
    answer = {"answer": "EUR 45 a day.", "citations": ["P1"]}
    bedrock.converses(tool_answer(answer))
    source = "[P1] (source: travel-policy-2026.md, effective 2026-01-01)\nMeals are reimbursed up to EUR 45 a day."
    expect_answer_check(bedrock, answer, apply_guardrail_response(0.9, 0.8), [source])
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then the answer was checked against the passage and the query (the stub checks the request exactly)
    assert status == 200, body
    bedrock.converse_stub.assert_no_pending_responses()
    assert body["grounding"] == {
        "grounding_score": 0.9,
        "relevance_score": 0.8,
        "grounded": True,
        "action": "BLOCK",
        "blocked": False,
    }
    # and its text units are billed: 3 grounding units on their line, the other policies on the guardrail's
    prices = get_settings().guardrail_prices
    assert body["cost_lines"]["grounding"] == pytest.approx(3 * prices["contextual_grounding"])
    assert body["cost_lines"]["guardrail"] == pytest.approx(prices["content"] + prices["sensitive_information"])
    assert counted(spend_table) == pytest.approx(body["cost_usd"])


def test_a_tool_answer_blocked_by_apply_guardrail_is_the_blocked_message_counted_ungrounded(
    ask, bedrock, spend_table, printed, rag
):
    bedrock.retrieves(MEALS_2026)
    answer = {"answer": "EUR 90 a day.", "citations": ["P1"]}
    bedrock.converses(tool_answer(answer))
    message = rag.config.guardrail.blocked_output_message
    source = "[P1] (source: travel-policy-2026.md, effective 2026-01-01)\nMeals are reimbursed up to EUR 45 a day."
    expect_answer_check(bedrock, answer, apply_guardrail_response(0.1, 0.9, blocked_with=message), [source])
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then the blocked-output message, counted ungrounded, the model's call and the check both billed
    assert (status, body["error"]["code"], body["error"]["message"]) == (422, "GuardrailIntervened", message)
    (record,), _ = printed()
    assert record["Ungrounded"] == [1] and record["GroundingScore"] == [0.1]
    prices = get_settings().guardrail_prices
    assert counted(spend_table) > retrieval_cost() + 3 * prices["contextual_grounding"]


def test_apply_guardrail_failing_after_the_billed_model_call_counts_the_call_and_the_retrieve_once(
    ask, bedrock, spend_table, printed
):
    # Given passages, a tool answer (Converse's guardrail does not assess it, so ApplyGuardrail must), and
    # ApplyGuardrail throttling
    bedrock.retrieves(MEALS_2026)
    bedrock.converses(tool_answer({"answer": "EUR 45 a day.", "citations": ["P1"]}, tokens=(700, 40)))
    bedrock.converse_stub.add_client_error("apply_guardrail", "ThrottlingException", "Rate exceeded", 429)
    # When the question is asked
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    # Then the answer is withheld (fail closed: 502 ModelError, as for any failed check: docs/security.md), and
    # the model's call and the Retrieve are on the counter and in CostUSD, once
    assert (status, body["error"]["code"]) == (502, "ModelError"), body
    model_usd = (700 * 0.00006 + 40 * 0.00024) / 1000
    assert counted(spend_table) == pytest.approx(model_usd + retrieval_cost())
    (record,), _ = printed()
    assert record["CostUSD"] == [pytest.approx(counted(spend_table))]
    assert "Grounded" not in record and "Ungrounded" not in record  # nothing was assessed


@pytest.mark.parametrize("cited", [["P0"], ["p1"], [" P1"], ["P3"], [1]])
def test_a_citation_that_is_not_exactly_a_retrieved_id_is_repaired_then_refused(ask, bedrock, cited):
    # Given two passages and an answer citing something other than P1/P2, twice (answer and repair)
    bedrock.retrieves(MEALS_2026, PER_DIEM)
    for _ in range(2):
        bedrock.converses(tool_answer({"answer": "EUR 45.", "citations": cited}, trace=grounding_trace(0.9, 0.9)))
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    assert (status, body["error"]["code"]) == (502, "ModelOutputInvalid"), body


def test_a_duplicate_citation_is_one_citation(ask, bedrock):
    bedrock.retrieves(MEALS_2026, PER_DIEM)
    answer = {"answer": "EUR 45 a day.", "citations": ["P1", "P1"]}
    bedrock.converses(tool_answer(answer))
    bedrock.checks(apply_guardrail_response(0.9, 0.9))
    status, body = ask({"prompt_id": "answer", "variables": {"question": QUESTION}})
    assert status == 200, body
    assert [c["id"] for c in body["citations"]] == ["P1"]


def test_retrieve_has_its_own_timeouts_and_attempts_from_the_config_and_the_model_keeps_its_own(rag_env, rag):
    # Given fixture-rag's function environment (knowledge.* and models.* of its config)
    handler_module.get_deps.cache_clear()
    deps = handler_module.get_deps()
    # Then Retrieve waits as long as knowledge.* says, not as long as a model answer may take
    retrieve = deps.knowledge._client.meta.config
    knowledge, models = rag.config.knowledge, rag.config.models
    assert (retrieve.connect_timeout, retrieve.read_timeout) == (
        knowledge.connect_timeout_seconds,
        knowledge.timeout_seconds,
    )
    assert retrieve.retries["total_max_attempts"] == knowledge.max_attempts
    # and Converse as models.* says (local mode's environment shortens the read timeout: the simulator's hangs)
    converse, settings = deps.model._client.meta.config, get_settings()
    assert converse.read_timeout == settings.bedrock_read_timeout_s != retrieve.read_timeout
    assert converse.retries["total_max_attempts"] == models.max_attempts
