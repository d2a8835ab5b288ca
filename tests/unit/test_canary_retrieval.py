"""The golden canary measures retrieval recall and the hallucination rate in production, with the eval's scoring
(service/evalcore/retrieval.py), and publishes them as CanaryRetrievalRecall and CanaryHallucinationRate. The
service's answers are built by hand in the API's response shape until the runtime lands them."""

import json
from types import SimpleNamespace

import pytest

from liftoff.foundation.canary import canary_payload
from service.handlers import canary as canary_module
from tests.fixtures.project import build_project
from tests.unit.test_canary import _emf

REFUSAL = "I could not find this in the company's policies. Please ask People Operations."


def _response(answer: str, sources: list[str], *, grounded=True, outcome="answered"):
    return SimpleNamespace(
        output=json.dumps({"answer": answer, "citations": ["P1"] if sources else []}),
        cost_usd=0.001,
        retrieval={
            "passages": [{"id": f"P{i}", "source": s, "score": 0.8} for i, s in enumerate(sources, 1)],
            "top_k": 5,
            "outcome": outcome,
        },
        grounding=None if outcome == "no_context" else {"grounded": grounded, "blocked": False},
    )


def _case(case_id, *expected, answerable=True):
    return {
        "id": case_id,
        "prompt_id": "triage",  # a prompt the test registry serves; its answers are the fake ones below
        "variables": {"message": case_id},
        "checks": [],
        "blocked_ok": False,
        "expected_sources": list(expected),
        "answerable": answerable,
    }


def test_the_canary_publishes_retrieval_recall_and_the_hallucination_rate(call, store, monkeypatch, capsys):
    # Given golden retrieval cases and a service that answers them (by hand, in the API's shape)
    answers = {
        "found": _response("Five days.", ["a.md", "b.md"]),  # recall 1, rank 2 -> RR 1/2
        "missed": _response("Three.", ["c.md"]),  # recall 0, RR 0
        "ungrounded": _response("Made up.", ["a.md"], grounded=False),  # recall 1, RR 1, ungrounded
        "unanswerable-refused": _response(REFUSAL, [], outcome="no_context"),
        "unanswerable-answered": _response("Yes, bay 3.", ["c.md"]),  # a hallucination
    }
    from service.models.errors import GuardrailIntervened

    def invoke(request, *, request_id, deps):
        if request.variables["message"] == "blocked":  # a grounding BLOCK: a 422 carrying what the check found
            error = GuardrailIntervened("No answer supported by the policy documents.")
            error.retrieval_report = SimpleNamespace(grounding={"grounded": False, "blocked": True})
            raise error
        return SimpleNamespace(response=answers[request.variables["message"]])

    monkeypatch.setattr(canary_module, "invoke", invoke)
    payload = {
        "golden_canary": {
            "contracts": {},
            "retrieval": {"triage": {"refusal": REFUSAL, "top_k": 5}},
            "cases": [
                _case("found", "b.md"),
                _case("missed", "a.md"),
                _case("ungrounded", "a.md"),
                _case("unanswerable-refused", answerable=False),
                _case("unanswerable-answered", answerable=False),
                _case("blocked", answerable=False),  # refused by the block: passes, but the model was ungrounded
            ],
            "budget": {"case_s": 1, "concurrency": 1, "timeout_s": 60},
        }
    }
    capsys.readouterr()
    # When the canary runs
    stable = canary_module.lambda_handler(payload, None)["stable"]
    # Then recall@k is the mean over the 3 cases naming sources, the hallucination rate 3 of 6 (the ungrounded
    # answer, the blocked ungrounded one and the answered unanswerable question), under the eval's policy
    assert stable["retrieval_recall"] == pytest.approx(2 / 3)
    assert stable["mrr"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert stable["hallucination_rate"] == pytest.approx(3 / 6)
    assert (stable["answered_unanswerable"], stable["ungrounded"]) == (1, 2)
    assert stable["failed"] == ["unanswerable-answered"]
    published = _emf(capsys)
    assert published["CanaryRetrievalRecall"] == pytest.approx(2 / 3)
    assert published["CanaryHallucinationRate"] == pytest.approx(3 / 6)


def test_a_use_case_without_retrieval_publishes_neither(call, store, capsys):
    capsys.readouterr()
    stable = canary_module.lambda_handler(canary_payload("fixture-triage"), None)["stable"]
    assert "retrieval_recall" not in stable
    published = _emf(capsys)
    assert "CanaryAccuracy" in published
    assert "CanaryRetrievalRecall" not in published and "CanaryHallucinationRate" not in published


def test_the_payload_carries_what_retrieval_scoring_needs(tmp_path):
    # Given the fixture retrieval use case (its golden set: the clean and edge cases, and the unanswerable ones)
    project = build_project(tmp_path / "project")
    payload = canary_payload("fixture-rag", root=project)["golden_canary"]
    # Then the prompt's refusal and top_k, and each case's expected sources and answerability, are in it
    assert payload["retrieval"] == {"answer": {"refusal": REFUSAL, "top_k": 5}}
    by_id = {c["id"]: c for c in payload["cases"]}
    assert by_id["carry-over"]["expected_sources"] == ["leave-policy.md"]
    assert by_id["carry-over"]["answerable"] is True
    assert {i for i, c in by_id.items() if not c["answerable"]} == {"parking", "stock-options"}
    assert "retrieval" not in canary_payload("fixture-triage")["golden_canary"]
