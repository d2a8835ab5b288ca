"""The demo's grounded-answers step (liftoff/demo.py show_grounded_answers): for a retrieval use case, one
answer with its citations and one refusal, each judged against what the response says."""

import dataclasses
import io

import pytest
from rich.console import Console

from liftoff import demo
from liftoff.foundation.usecases import load_use_case
from liftoff.local.runtime import LocalState
from tests.fixtures.project import CONTENT

STATE = LocalState(1, "fixture-rag", "http://127.0.0.1:1", "k", "", "", "t", "s", "i")
REFUSAL = "I could not find this in the company's policies. Please ask People Operations."


def answered(source: str = "leave-policy.md") -> dict:
    citation = {"id": "P1", "source": source, "source_uri": f"s3://b/{source}", "score": 0.91, "excerpt": "Up to 5"}
    return {
        "output": '{"answer": "Up to 5 unused days can be carried over.", "citations": ["P1"]}',
        "citations": [citation],
        "retrieval": {"outcome": "answered", "passages": [citation]},
        "usage": {"input_tokens": 300, "output_tokens": 20},
        "cost_usd": 0.0001,
    }


def refused() -> dict:
    return {
        "output": REFUSAL,
        "citations": [],
        "retrieval": {"outcome": "no_context", "passages": []},
        "usage": {"input_tokens": 0, "output_tokens": 0},
        "cost_usd": 0.00000002,
    }


@pytest.fixture
def printed(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(demo, "console", Console(file=out, width=120, color_system=None))
    return out


@pytest.fixture(scope="module")
def rag():
    return load_use_case("fixture-rag", CONTENT)


def replies(*bodies):
    sent = []

    def send(state, request):
        sent.append(request)
        return 200, bodies[len(sent) - 1], 1.0

    return send, sent


def test_a_grounded_answer_and_a_refusal_are_shown(rag, printed):
    # Given the fixture use case's eval set: a clean answerable case and an unanswerable one
    send, sent = replies(answered(), refused())
    # When the step runs
    failures = demo.show_grounded_answers(STATE, rag, send)
    # Then it asked one of each, and shows the answer's citation and the refusal without a model call
    text = " ".join(printed.getvalue().split())
    assert failures == 0
    assert [r.label for r in sent] == ["hotel-cap-capital", "parking"]
    assert sent[0].body == {
        "prompt_id": "answer",
        "variables": {"question": "What is the hotel cap per night in capital cities?"},
    }
    assert "[P1] leave-policy.md (score 0.91)" in text
    assert REFUSAL in text and "0 model tokens (no model call)" in text
    assert "lexically, BM25, not semantically" in text


@pytest.mark.parametrize(
    "bodies",
    [
        (answered(), answered()),  # the unanswerable question was answered
        (refused(), refused()),  # the answerable one was refused
        (answered("not-a-document.md"), refused()),  # a citation naming no file of the knowledge folder
    ],
    ids=["answered-unanswerable", "refused-answerable", "unknown-source"],
)
def test_an_unexpected_outcome_counts_as_a_failure(rag, printed, bodies):
    send, _ = replies(*bodies)
    assert demo.show_grounded_answers(STATE, rag, send) == 1


def test_a_use_case_without_knowledge_has_no_such_step(rag, printed):
    plain = dataclasses.replace(rag, config=rag.config.model_copy(update={"knowledge": None}))
    send, sent = replies()
    assert demo.show_grounded_answers(STATE, plain, send) == 0 and sent == [] and printed.getvalue() == ""
