"""Grounded answers through local mode, as a user runs it (`liftoff local up` on the fixture project's
retrieval use case): the local knowledge base (lexical stand-in), the simulator's extractive answers and
its grounding check, behind the real handler. Issue 23's done-when for local mode."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.fixtures.project import build_project

USE_CASE = "fixture-rag"
LIFTOFF = Path(sys.executable).parent / "liftoff"
REFUSAL = "I could not find this in the company's policies. Please ask People Operations."


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return build_project(tmp_path_factory.mktemp("grounded") / "project")


def liftoff_cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIFTOFF_PROJECT": str(project), "LIFTOFF_LOCAL_PROMPT_CACHE_TTL_S": "0"}
    return subprocess.run(  # the CLI in the project, as a user runs it there
        [str(LIFTOFF), *args], cwd=project, env=env, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture(scope="module")
def local(project):
    """Local mode for the fixture retrieval use case, and its state file (the simulator's URL), its log."""
    started = liftoff_cli(project, "local", "up", "--use-case", USE_CASE)
    assert started.returncode == 0, started.stdout + started.stderr
    state = json.loads((project / ".liftoff" / f"{USE_CASE}.json").read_text())
    yield state, project / ".liftoff" / f"{USE_CASE}.log", started.stdout
    liftoff_cli(project, "local", "down", "--use-case", USE_CASE)


def ask(local, question: str) -> tuple[int, dict]:
    state, _, _ = local
    response = requests.post(
        f"{state['api_url']}/v1/invoke",
        json={"prompt_id": "answer", "variables": {"question": question}},
        headers={"x-api-key": state["api_key"]},
        timeout=30,
    )
    return response.status_code, response.json()


def model_calls(local) -> int:
    state, _, _ = local
    return requests.get(f"{state['bedrock_url']}/_sim/health", timeout=5).json()["calls"]


def emf_record(local, request_id: str) -> dict:
    _, log, _ = local
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    matching = [r for r in records if "_aws" in r and request_id in json.dumps(r)]
    assert matching, f"no EMF record of request {request_id} in {log}"
    return matching[-1]


def metric(record: dict, name: str) -> float:
    """A metric's value in an EMF record (Powertools writes a list when it holds several)."""
    value = record[name]
    (single,) = value if isinstance(value, list) else [value]
    return single


def test_local_up_says_the_knowledge_base_is_lexical(local):
    _, _, printed = local
    assert "kb:" in printed and "lexical (BM25), not semantic" in printed


def test_a_policy_question_answers_with_citations_of_the_knowledge_folder(local, project):
    # When a question the documents answer is asked
    status, body = ask(local, "How many unused leave days can be carried over?")
    # Then it answers 200 from the leave policy, citing passages whose sources are files of knowledge/fixture-rag/
    assert status == 200, body
    assert "5 unused days" in body["output_json"]["answer"]
    assert body["citations"] and body["retrieval"]["outcome"] == "answered"
    folder = project / "knowledge" / USE_CASE
    for citation in body["citations"]:
        assert (folder / citation["source"]).is_file(), citation
        assert citation["source_uri"] == f"s3://liftoff-local-{USE_CASE}/{citation['source']}"
    assert "leave-policy.md" in {c["source"] for c in body["citations"]}
    assert body["grounding"]["grounded"] is True and body["grounding"]["blocked"] is False


def test_an_unanswerable_question_gets_the_refusal_with_no_model_call(local):
    before = model_calls(local)
    status, body = ask(local, "When do stock options vest?")
    assert status == 200, body
    assert body["output"] == REFUSAL and body["output_json"] == {"answer": REFUSAL, "citations": []}
    assert body["retrieval"]["outcome"] == "no_context" and not body.get("citations")
    assert model_calls(local) == before  # the simulator was not called
    assert body["usage"]["input_tokens"] == body["usage"]["output_tokens"] == 0


def test_an_ungrounded_answer_is_blocked_and_counted_in_the_metrics(local, project):
    # When the simulator is told to invent figures (it cites a passage that exists: the output contract passes)
    status, body = ask(local, "How many unused leave days can be carried over? [[sim:ungrounded]]")
    # Then the grounding check (action BLOCK) replaces the answer: 422 GuardrailIntervened, the blocked message
    assert status == 422, body
    assert body["error"]["code"] == "GuardrailIntervened"
    assert (
        body["error"]["message"]
        == "No answer supported by the policy documents could be given. Please ask People Operations."
    )
    # And the request's EMF record counts it: Ungrounded 1, Grounded 0, with its low grounding score
    record = emf_record(local, body["error"]["request_id"])
    assert metric(record, "Ungrounded") == 1 and metric(record, "Grounded") == 0
    assert metric(record, "GroundingScore") < 0.75


def test_a_grounded_answer_is_counted_as_grounded(local):
    status, body = ask(local, "What is the per-diem in Lisbon?")
    assert status == 200, body
    record = emf_record(local, body["request_id"])
    assert metric(record, "Ungrounded") == 0 and metric(record, "Grounded") == 1
    assert metric(record, "GroundingScore") >= 0.75


def test_the_demo_shows_a_grounded_answer_and_a_refusal(local, project, monkeypatch):
    import io

    from rich.console import Console

    from liftoff import demo
    from liftoff.foundation.usecases import load_use_case
    from liftoff.local.runtime import LocalState

    out = io.StringIO()
    monkeypatch.setattr(demo, "console", Console(file=out, width=200, color_system=None))
    state, _, _ = local
    # When the demo's step runs against the running local mode (the use case's own eval set)
    failures = demo.show_grounded_answers(LocalState(**state), load_use_case(USE_CASE, project))
    # Then both came back as expected: an answer citing the 2026 travel policy, and the refusal
    printed = out.getvalue()
    assert failures == 0, printed
    assert "180 EUR" in printed and "] travel-policy-2026.md (score" in printed
    assert REFUSAL in printed and "(no model call)" in printed
