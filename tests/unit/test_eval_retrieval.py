"""Retrieval evals (issue 23 item 6): recall@k and MRR from the answer's passages, unanswerable cases pass only on a
refusal, and the hallucination rate with its parts, overall and per tag, against the retrieval exit criteria. The
answers are built by hand in the API's response shape (docs/grounded-answers.md)."""

import json

import pytest

from liftoff.evals.report import retrieval_rows, write_report
from liftoff.evals.runner import Run, score_case, summarize
from liftoff.evals.targets import Answer
from liftoff.foundation.config import ExitCriteria
from liftoff.foundation.eval_cases import EvalCase, RetrievalFacts, Suite
from service.evalcore.retrieval import recall_at_k, reciprocal_rank, retrieved_sources, tally_retrieval
from tests.fixtures.project import CONTENT
from tests.unit.test_eval_evidence import evaluated

REFUSAL = "I could not find this in the company's policies. Please ask People Operations."
SUITE = Suite(prompt_id="answer", retrieval={"answer": RetrievalFacts(refusal=REFUSAL, top_k=5)})
CRITERIA = ExitCriteria(
    min_accuracy=0.5,
    p95_latency_ms=10_000,
    max_cost_per_request_usd=0.01,
    max_error_rate=0.5,
    min_retrieval_recall=0.8,
    max_hallucination_rate=0.05,
    max_ungrounded_rate=0.05,
)


def passages(*sources: str) -> list[dict]:
    return [
        {"id": f"P{i}", "source": s, "source_uri": f"s3://docs/{s}", "score": round(0.9 - i / 20, 2)}
        for i, s in enumerate(sources, start=1)
    ]


def answer(
    text: str, *sources: str, grounded: bool | None = True, blocked=False, outcome="answered", **extra
) -> Answer:
    grounding = None
    if grounded is not None:
        grounding = {
            "grounding_score": 0.9 if grounded else 0.2,
            "relevance_score": 0.9,
            "grounded": grounded,
            "action": "BLOCK",
            "blocked": blocked,
        }
    return Answer(
        ok=True,
        output=json.dumps({"answer": text, "citations": ["P1"] if sources else []}),
        latency_ms=100,
        cost_usd=0.001,
        retrieval={"passages": passages(*sources), "top_k": 5, "min_score": 0.4, "outcome": outcome},
        grounding=grounding,
        **extra,
    )


def case(case_id: str, *expected: str, answerable=True, tags=("clean",), checks=()) -> EvalCase:
    return EvalCase(
        id=case_id,
        variables={"question": f"question {case_id}?"},
        expected_sources=list(expected),
        answerable=answerable,
        tags=list(tags),
        checks=list(checks),
    )


# -- recall@k and MRR --------------------------------------------------------------------------------


def test_sources_are_the_passages_files_in_rank_order_each_once():
    assert retrieved_sources(passages("a.md", "a.md", "./b.md", "c.md", "b.md")) == ["a.md", "b.md", "c.md"]


def test_recall_at_k_and_reciprocal_rank_by_hand():
    # expected b.md, retrieved a, a, b, c: b is the 2nd source -> recall 1, RR 1/2
    sources = retrieved_sources(passages("a.md", "a.md", "b.md", "c.md"))
    assert recall_at_k(["b.md"], sources, 5) == 1.0
    assert reciprocal_rank(["b.md"], sources) == 0.5
    # two expected, one found: recall 1/2; the first expected found is at rank 2
    assert recall_at_k(["a.md", "d.md"], ["c.md", "a.md"], 5) == 0.5
    assert reciprocal_rank(["a.md", "d.md"], ["c.md", "a.md"]) == 0.5
    # nothing expected retrieved: 0 and 0
    assert recall_at_k(["x.md"], ["a.md"], 5) == 0.0
    assert reciprocal_rank(["x.md"], ["a.md"]) == 0.0
    # only the first k sources count
    assert recall_at_k(["c.md"], ["a.md", "b.md", "c.md"], 2) == 0.0


def test_a_run_averages_recall_and_mrr_over_the_cases_naming_sources():
    # Given three answered cases with expected sources, and one unanswerable refused (no sources named)
    results = [
        score_case(case("one", "b.md"), SUITE, answer("x", "a.md", "a.md", "b.md", "c.md"), None),  # 1, 1/2
        score_case(case("two", "a.md", "d.md"), SUITE, answer("x", "c.md", "a.md"), None),  # 1/2, 1/2
        score_case(case("three", "x.md", tags=("noisy",)), SUITE, answer("x", "a.md"), None),  # 0, 0
        score_case(
            case("four", answerable=False, tags=("noisy",)),
            SUITE,
            answer(REFUSAL, outcome="no_context", grounded=None),
            None,
        ),
    ]
    summary = summarize(results, CRITERIA, target="t", model="m", duration_s=1)
    # Then recall@k = (1 + 0.5 + 0) / 3 and MRR = (0.5 + 0.5 + 0) / 3, over 3 cases naming sources
    assert summary.retrieval.with_sources == 3
    assert summary.retrieval.recall == pytest.approx(0.5)
    assert summary.retrieval.mrr == pytest.approx(1 / 3)
    # and per tag: clean = cases one and two, noisy = case three (case four names none)
    assert summary.retrieval_by_tag["clean"].recall == pytest.approx(0.75)
    assert summary.retrieval_by_tag["clean"].mrr == pytest.approx(0.5)
    assert summary.retrieval_by_tag["noisy"].recall == 0.0
    assert summary.retrieval_by_tag["noisy"].with_sources == 1
    # and recall 50% fails min_retrieval_recall 80%: the run's verdict is FAIL
    criteria = {c.name: c for c in summary.criteria}
    assert criteria["retrieval recall"].measured == pytest.approx(0.5)
    assert not criteria["retrieval recall"].passed
    assert not summary.verdict


# -- unanswerable cases --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "passes"),
    [
        (answer(REFUSAL, outcome="no_context", grounded=None), True),  # nothing reached min_score: the fixed refusal
        (answer(REFUSAL.upper() + "  ", "a.md"), True),  # the model declined with the refusal text
        (answer("Blocked by policy.", "a.md", grounded=False, blocked=True), True),  # the grounding check blocked it
        (Answer(ok=False, error_code="GuardrailIntervened", error_message="blocked"), True),  # no answer at all
        (answer("Cyclists park for free in bay 3.", "a.md"), False),  # an answer the documents do not hold
        (answer("I don't know.", "a.md"), False),  # a refusal in other words is not the prompt's refusal
    ],
)
def test_an_unanswerable_case_passes_only_on_a_refusal(given, passes):
    result = score_case(case("parking", answerable=False, tags=("unanswerable",)), SUITE, given, None)
    assert (result.status == "pass") is passes
    if not passes:
        assert any(c.check == "unanswerable" and c.passed is False for c in result.checks)
        assert result.retrieval.answered_unanswerable and result.retrieval.hallucinated


def test_a_no_context_refusal_is_scored_on_its_json_form_against_the_output_schema():
    # Given a JSON prompt's no-context refusal as the API answers it: `output` the refusal text, `output_json` its
    # JSON form (the prompt's schema describes that one)
    schema = json.loads((CONTENT / "prompts" / "fixture-rag" / "schemas" / "answer.json").read_text())
    suite = SUITE.model_copy(update={"output_schemas": {"answer": schema}})
    refused = Answer(
        ok=True,
        output=REFUSAL,
        output_json={"answer": REFUSAL, "citations": []},
        retrieval={"passages": [], "top_k": 5, "min_score": 0.4, "outcome": "no_context"},
    )
    # When an unanswerable case gets it / Then it passes the output contract and the refusal check
    result = score_case(case("parking", answerable=False, tags=("unanswerable",)), suite, refused, None)
    assert result.status == "pass", result.checks
    assert not result.invalid_output


def test_a_guardrail_block_is_a_refusal_and_measures_no_retrieval():
    # Given the 422 GuardrailIntervened a grounding BLOCK answers with (no retrieval in its body)
    blocked = Answer(ok=False, error_code="GuardrailIntervened", error_message="No answer supported by the policy.")
    # When an unanswerable case gets it / Then it is a refusal: a pass, and no hallucination
    unanswerable = score_case(case("parking", answerable=False, tags=("unanswerable",)), SUITE, blocked, None)
    assert unanswerable.status == "pass"
    assert unanswerable.retrieval.refused and not unanswerable.retrieval.hallucinated
    # and a case naming sources is left out of recall (what was retrieved is unknown), not counted a miss
    answerable = score_case(case("hotel", "travel.md"), SUITE, blocked, None)
    assert answerable.retrieval.recall is None
    # but when the error says what the grounding check found, the block counts as ungrounded
    told = Answer(**{**vars(blocked), "grounding": {"grounded": False, "blocked": True}})
    assert score_case(case("hotel", "travel.md"), SUITE, told, None).retrieval.ungrounded is True


def test_an_answerable_case_refused_is_not_a_hallucination_but_fails_its_checks():
    check = {"type": "contains", "value": "180"}
    result = score_case(
        case("hotel", "travel.md", checks=[check]), SUITE, answer(REFUSAL, outcome="no_context", grounded=None), None
    )
    assert result.status == "fail"
    assert result.retrieval.refused and not result.retrieval.hallucinated
    assert result.retrieval.recall == 0.0


# -- the hallucination rate and its parts ---------------------------------------------------------------


def fake_judge(scores: dict[str, float]):
    """A judge scoring each answer by a word in it, recording what it was given as its source."""
    seen = []

    def judge(rubric, output, source=None):
        seen.append((rubric, output, source))
        return next((v for k, v in scores.items() if k in output), 5.0), "fake"

    return judge, seen


def test_the_hallucination_rate_counts_each_part_once_per_case():
    with_text = {
        "passages": [{"id": "P1", "source": "a.md", "source_uri": "s3://d/a.md", "score": 0.8, "text": "Rule A."}],
        "top_k": 5,
        "min_score": 0.4,
        "outcome": "answered",
    }
    judge, seen = fake_judge({"invented": 2.0})
    results = [
        # an answered unanswerable question
        score_case(case("u1", answerable=False, tags=("unanswerable",)), SUITE, answer("Yes, bay 3.", "a.md"), judge),
        # an unanswerable question refused: not a hallucination
        score_case(
            case("u2", answerable=False, tags=("unanswerable",)),
            SUITE,
            answer(REFUSAL, outcome="no_context", grounded=None),
            judge,
        ),
        # ungrounded, measured only (action NONE): delivered
        score_case(case("g1", "a.md"), SUITE, answer("Rule B.", "a.md", grounded=False), judge),
        # ungrounded and blocked: still the model's hallucination (what the Ungrounded metric counts)
        score_case(case("g2", "a.md"), SUITE, answer("Rule C.", "a.md", grounded=False, blocked=True), judge),
        # grounded by the check, judged unfaithful to its passage
        score_case(
            case("j1", "a.md"), SUITE, Answer(**{**vars(answer("invented", "a.md")), "retrieval": with_text}), judge
        ),
        # ungrounded AND judged unfaithful: one hallucinated case
        score_case(
            case("j2", "a.md"),
            SUITE,
            Answer(**{**vars(answer("invented too", "a.md", grounded=False)), "retrieval": with_text}),
            judge,
        ),
        # grounded, faithful
        score_case(
            case("ok", "a.md"), SUITE, Answer(**{**vars(answer("Rule A.", "a.md")), "retrieval": with_text}), judge
        ),
    ]
    tally = tally_retrieval(r.retrieval for r in results)
    assert (tally.cases, tally.unanswerable, tally.answered_unanswerable) == (7, 2, 1)
    assert (tally.checked, tally.ungrounded) == (6, 3)  # u2 was not checked (no model call)
    # judged: j1, j2 and ok carry passage text; u1, g1 carry none (skipped); g2 was blocked, a refusal
    assert (tally.judged, tally.unfaithful) == (3, 2)
    assert tally.hallucinated == 5  # u1, g1, g2, j1, j2
    assert tally.hallucination_rate == pytest.approx(5 / 7)
    assert tally.ungrounded_rate == pytest.approx(3 / 6)
    # the judge read the retrieved passage as its source, beside the question
    sources = [source for _rubric, output, source in seen if "invented" in output]
    assert sources and all(s["passage P1 (source: a.md)"] == "Rule A." and "question" in s for s in sources)
    # the unfaithful answer fails its case
    assert next(r for r in results if r.id == "j1").status == "fail"


def test_without_a_judge_nothing_is_judged_and_the_report_says_so():
    results = [score_case(case("a", "a.md"), SUITE, answer("x", "a.md"), None)]
    summary = summarize(results, CRITERIA, target="t", model="m", duration_s=1)
    assert summary.retrieval.judged == 0
    assert retrieval_rows(summary)[0][-1] == "not judged"


def test_a_use_case_without_knowledge_shows_no_retrieval_criterion():
    plain = Suite(prompt_id="triage")
    criteria = ExitCriteria(min_accuracy=0.5, p95_latency_ms=1000, max_cost_per_request_usd=0.01)
    results = [score_case(EvalCase(id="a", variables={"m": "x"}), plain, Answer(ok=True, output="x"), None)]
    summary = summarize(results, criteria, target="t", model="m", duration_s=1)
    assert summary.retrieval is None and retrieval_rows(summary) == []
    assert [c.name for c in summary.criteria] == [
        "accuracy",
        "p95 latency",
        "cost per request",
        "error rate",
        "invalid output rate",
    ]


def test_the_reports_show_retrieval_overall_and_per_tag(tmp_path):
    # Given a run with a clean and a noisy retrieval case, and an answered unanswerable one
    results = [
        score_case(case("one", "b.md"), SUITE, answer("x", "a.md", "b.md"), None),
        score_case(case("two", "a.md", tags=("noisy",)), SUITE, answer("x", "c.md"), None),
        score_case(case("u", answerable=False, tags=("unanswerable",)), SUITE, answer("Yes.", "a.md"), None),
    ]
    run = Run(summarize(results, CRITERIA, target="t", model="m", duration_s=1), results)
    # When the reports are written
    out = write_report("fixture-rag", [run], CRITERIA, simulated=True, evaluated=evaluated(), directory=tmp_path)
    # Then report.md has the retrieval table: overall, then each tag
    text = (out / "report.md").read_text()
    assert "| all | 3 | 50.0% (2) | 0.250 | 33.3% (1/3) | 100.0% (1/1) | 0.0% (0/3) | not judged |" in text
    assert "| clean | 1 | 100.0% (1) | 0.500 |" in text
    assert "| noisy | 1 | 0.0% (1) | 0.000 |" in text
    assert "| unanswerable | 1 | n/a (0 cases name sources) |" in text
    # and the criteria table shows them against their criteria
    assert "| retrieval recall | >= 80.0% | 50.0% | FAIL |" in text
    assert "| hallucination rate | <= 5.0% | 33.3% | FAIL |" in text
    assert "| ungrounded rate | <= 5.0% | 0.0% | PASS |" in text
    # and report.html and report.json carry the same
    page = (out / "report.html").read_text()
    assert "<h3>Retrieval</h3>" in page and "<td>noisy</td><td>1</td><td>0.0% (1)</td>" in page
    document = json.loads((out / "report.json").read_text())
    run_json = document["runs"][0]
    assert run_json["retrieval"]["recall"] == pytest.approx(0.5)
    assert run_json["retrieval_by_tag"]["noisy"]["mrr"] == 0.0
    assert run_json["retrieval"]["answered_unanswerable"] == 1
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert rows[0]["retrieval_score"]["sources"] == ["a.md", "b.md"]
    assert rows[0]["retrieval_score"]["reciprocal_rank"] == 0.5


# -- the eval set is checked against the documents -----------------------------------------------------


@pytest.fixture
def rag_project(tmp_path):
    from tests.fixtures.project import build_project

    return build_project(tmp_path / "project")


def rewrite_case(project, case_id: str, **changes) -> None:
    path = project / "evals" / "fixture-rag" / "cases.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for line in lines:
        if line["id"] == case_id:
            line.update(changes)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_the_fixture_eval_set_loads_with_its_retrieval_facts(rag_project):
    from liftoff.foundation.eval_cases import load_cases, load_suite

    cases = load_cases("fixture-rag", root=rag_project)
    assert {c.id for c in cases if not c.answerable} == {"parking", "stock-options"}
    facts = load_suite("fixture-rag", root=rag_project).retrieval["answer"]
    assert facts.refusal == REFUSAL and facts.top_k == 5


def test_an_expected_source_that_is_not_a_document_is_refused_with_the_line(rag_project):
    from liftoff.foundation.errors import ConfigError
    from liftoff.foundation.eval_cases import load_cases

    rewrite_case(rag_project, "carry-over", expected_sources=["leave-polcy.md"])
    with pytest.raises(ConfigError, match=r"cases.jsonl:2: case 'carry-over': `expected_sources` names leave-polcy.md"):
        load_cases("fixture-rag", root=rag_project)


# -- the gate ---------------------------------------------------------------------------------------


class FakeRagApi:
    """POST /v1/invoke of a retrieval prompt on 127.0.0.1, in the API's response shape: every answerable question
    is answered with every figure the fixture's checks look for, from the sources `sources_for` gives; the
    unanswerable ones get the refusal (no context)."""

    def __init__(self, cases: list[EvalCase], sources_for):
        import http.server
        import threading

        by_question = {c.variables["question"]: c for c in cases}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                asked = by_question[body["variables"]["question"]]
                found = [] if not asked.answerable else sources_for(asked)
                answer = {"answer": "180, 5, three, 28, 14" if found else REFUSAL, "citations": ["P1"] if found else []}
                reply = {
                    "output": json.dumps(answer) if found else REFUSAL,  # a refusal's output is its text alone
                    "output_json": answer,
                    "usage": {"input_tokens": 100, "output_tokens": 20},
                    "cost_usd": 0.001,
                    "model_id": "us.amazon.nova-lite-v1:0",
                    "prompt_version": 1,
                    "retrieval": {
                        "passages": passages(*found),
                        "top_k": 5,
                        "min_score": 0.4,
                        "outcome": "answered" if found else "no_context",
                    },
                    "grounding": {"grounding_score": 0.9, "relevance_score": 0.9, "grounded": True, "blocked": False}
                    if found
                    else None,
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/invoke"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("sources_for", "exit_code"),
    [
        (lambda c: ["leave-policy.md"], 1),  # right for 1 of the 5 cases naming sources
        (lambda c: list(c.expected_sources), 0),
    ],
    ids=["wrong-sources", "right-sources"],
)
def test_a_retrieval_run_below_min_retrieval_recall_fails_the_gate(rag_project, tmp_path, sources_for, exit_code):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from liftoff.foundation.eval_cases import load_cases

    # Given an API that answers every fixture-rag case correctly, from the wrong documents (or the right ones)
    api = FakeRagApi(load_cases("fixture-rag", root=rag_project), sources_for)
    try:
        # When `eval run --gate` runs against it
        env = {**os.environ, "LIFTOFF_PROJECT": str(rag_project)}
        done = subprocess.run(
            [
                *(str(Path(sys.executable).parent / "liftoff"), "eval", "run", "--use-case", "fixture-rag"),
                *("--target", "api", "--url", api.url, "--api-key", "k", "--gate", "--out", str(tmp_path / "report")),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        api.close()
    # Then only the retrieval recall decides: 1 of 5 expected sources found fails min_retrieval_recall 80%
    assert done.returncode == exit_code, done.stdout + done.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    criteria = {c["name"]: c for c in report["runs"][0]["criteria"]}
    assert criteria["accuracy"]["passed"] and criteria["hallucination rate"]["measured"] == 0.0
    if exit_code:
        assert criteria["retrieval recall"]["measured"] == pytest.approx(0.2)
        assert "fixture-rag: FAIL" in done.stdout and "retrieval recall 20.0%, needs >= 80.0%" in done.stdout
    else:
        assert criteria["retrieval recall"]["measured"] == 1.0 and "fixture-rag: PASS" in done.stdout
