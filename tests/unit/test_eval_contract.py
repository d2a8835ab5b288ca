"""The eval and the API share one output contract: the prompt's schema is the first check of every
case, and answers that break it are counted as invalid outputs, per tag, against the exit criterion."""

from liftoff.evals.runner import score_case, summarize
from liftoff.evals.targets import Answer
from liftoff.foundation.config import ExitCriteria
from liftoff.foundation.eval_cases import EvalCase, load_suite

CRITERIA = ExitCriteria(min_accuracy=0.5, p95_latency_ms=10_000, max_cost_per_request_usd=0.01)


def test_the_suite_carries_the_prompts_schema():
    suite = load_suite("fixture-triage")
    (check,) = suite.contract_checks("triage")
    assert check.type == "json_schema" and "category" in check.json_schema["properties"]
    assert suite.contract_checks("no-such-prompt") == []


def test_answers_that_break_the_contract_are_invalid_outputs():
    suite = load_suite("fixture-triage")
    good = EvalCase(id="good", variables={"message": "x"}, tags=["clean"])
    valid = Answer(ok=True, output='{"category": "billing", "priority": "high", "summary": "refund"}')
    off_contract = Answer(ok=True, output='{"category": "refunds", "priority": "high", "summary": "refund"}')
    refused = Answer(ok=False, error_code="ModelOutputInvalid", error_message="$: must satisfy required=[...]")
    results = [
        score_case(good, suite, valid, None),
        score_case(good.model_copy(update={"id": "b", "tags": ["noisy"]}), suite, off_contract, None),
        score_case(good.model_copy(update={"id": "c", "tags": ["noisy"]}), suite, refused, None),
    ]
    assert [(r.status, r.invalid_output) for r in results] == [("pass", False), ("fail", True), ("fail", True)]
    summary = summarize(results, CRITERIA, target="t", model="m", duration_s=1)
    assert summary.invalid_outputs == 2 and summary.invalid_output_by_tag == {"noisy": (2, 2)}
    (criterion,) = [c for c in summary.criteria if c.name == "invalid output rate"]
    assert criterion.measured == 2 / 3 and not criterion.passed  # default max 1 %
