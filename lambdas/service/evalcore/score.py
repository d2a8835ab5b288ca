"""How one answer is scored: the policy `liftoff eval` (liftoff/evals/runner.py) and the golden canary
(service/handlers/canary.py) share.

- an answer passes when every check passes, else it fails (a wrong answer);
- a guardrail block is an answer: it passes only where a block is what the case wants (`blocked_ok`);
- an answer that broke the prompt's output schema after the repairs fails (and is an invalid output);
- a case with `expect_error` passes when the service refuses it with that error code, and fails otherwise;
- an `answerable: false` case (retrieval: the documents do not cover it) passes only on a refusal
  (service/evalcore/retrieval.py says what counts as one), and a guardrail block is one;
- no answer at all (after retries) is an error, not a wrong answer: it is kept apart, so
  accuracy = pass / (pass + fail), and there is no accuracy when nothing was answered (`Tally`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from service.evalcore.checks import CheckResult, Judge

GUARDRAIL_BLOCK = "GuardrailIntervened"
OUTPUT_INVALID = "ModelOutputInvalid"


@dataclass(frozen=True)
class Score:
    status: str  # pass | fail | error
    checks: list[CheckResult] = field(default_factory=list)
    invalid_output: bool = False


def score_answer(
    *,
    output: str | None,
    error_code: str | None,
    error_message: str = "",
    contract: Sequence = (),
    checks: Sequence = (),
    blocked_ok: bool = False,
    expect_error: str | None = None,
    judge: Judge | None = None,
    answerable: bool = True,
    refused: bool = False,
    extra: Sequence[CheckResult] = (),
) -> Score:
    """`contract` (the prompt's output schema) and `checks` (the suite's defaults and the case's own)
    are evaluated on an answer; the error code says what happened otherwise. A case that expects an
    error (`expect_error`) is judged on the error code alone. `answerable` false: the answer must be a
    refusal (`refused`); `extra`: results already evaluated (the retrieval judge's)."""
    if expect_error:
        ok = output is None and error_code == expect_error
        detail = f"expected error {expect_error}, got {error_code or 'an answer'}"
        return Score("pass" if ok else "fail", [CheckResult("expect_error", ok, detail)])
    if output is None and error_code == GUARDRAIL_BLOCK:
        ok = blocked_ok or not answerable  # no answer is what an unanswerable question wants
        detail = "blocked by the guardrail" + ("" if ok else "; this case expects an answer")
        return Score("pass" if ok else "fail", [CheckResult("guardrail", ok, detail)])
    if output is None and error_code == OUTPUT_INVALID:
        detail = f"the answer broke the output schema after the repairs: {error_message}"
        return Score("fail", [CheckResult("output_contract", False, detail)], invalid_output=True)
    if output is None:
        return Score("error")
    contract_results = [c.evaluate(output, judge) for c in contract]
    results = contract_results + [c.evaluate(output, judge) for c in checks] + list(extra)
    if not answerable:
        detail = "the documents do not cover this question, so only a refusal passes; it was answered"
        results.append(CheckResult("unanswerable", refused, detail))
    status = "fail" if any(r.passed is False for r in results) else "pass"
    return Score(status, results, invalid_output=any(r.passed is False for r in contract_results))


@dataclass(frozen=True)
class Tally:
    """How a run's cases scored; errors (no answer) are neither right nor wrong."""

    passed: int
    failed: int
    errors: int

    @property
    def accuracy(self) -> float | None:
        """pass / (pass + fail); None when no case was answered (there is nothing to judge)."""
        scored = self.passed + self.failed
        return self.passed / scored if scored else None


def tally(statuses: Iterable[str]) -> Tally:
    """Count `Score.status` values (pass | fail | error)."""
    statuses = list(statuses)
    return Tally(statuses.count("pass"), statuses.count("fail"), statuses.count("error"))
