"""Run an eval set against a target, score every case, measure against the exit criteria.

- A case whose target answered is `pass` when every check passes, else `fail` (a wrong answer).
- A case whose target did not answer (after retries) is `error`: it is not counted as a wrong
  answer, it is counted in the error rate, which has its own criterion (`max_error_rate`).
- A case with `expect_error` passes when the target refuses it with that error code.
- A guardrail block (GuardrailIntervened) is an answer: it passes a case tagged as the suite's
  `blocked_passes_tags` say (adversarial, pii) and fails any other (a false positive).

accuracy = pass / (pass + fail), overall and per tag; latency and cost over the answered cases.

Retrieval prompts (`retrieval:`) are scored on their retrieval too (service/evalcore/retrieval.py, shared
with the golden canary): recall@k and MRR over the cases naming `expected_sources`, `answerable: false`
cases pass only on a refusal, and the hallucination rate (with its parts) over the scored cases, overall
and per tag. With a judge configured, each answer that is not a refusal is judged for faithfulness to the
passages it was given (the judge reads them as its source), and an unfaithful one fails.

Latency: a deployed target counts every request. Local mode's cold starts are the laptop starting a
Python process, not Lambda's, so a local run judges p95 on warm requests: the command warms the
environments first and sets apart (and counts) any request that still started one; both figures,
with and without them, are in the summary.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from liftoff.evals.checks import CheckResult, Judge
from liftoff.evals.targets import Answer, Target
from liftoff.foundation.config import ExitCriteria
from liftoff.foundation.eval_cases import EvalCase, Suite
from service.evalcore.retrieval import (
    FAITHFULNESS,
    FAITHFULNESS_CHECK,
    RetrievalScore,
    RetrievalTally,
    is_refusal,
    passages_as_source,
    score_retrieval,
    scored_output,
    tally_retrieval,
)
from service.evalcore.score import score_answer, tally
from service.evalcore.stats import percentile


@dataclass(frozen=True)
class CaseResult:
    id: str
    tags: list[str]
    status: str  # pass | fail | error
    answer: Answer
    checks: list[CheckResult] = field(default_factory=list)
    invalid_output: bool = False  # the answer broke the prompt's output contract
    retrieval: RetrievalScore | None = None  # a scored case of a retrieval prompt

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.passed is False]


@dataclass(frozen=True)
class Criterion:
    name: str
    measured: float | None
    threshold: float
    comparison: str  # ">=" or "<="
    unit: str

    @property
    def passed(self) -> bool:
        if self.measured is None:
            return False
        return self.measured >= self.threshold if self.comparison == ">=" else self.measured <= self.threshold


# each exit criterion: its name in reports, its field of ExitCriteria, how it compares, its unit
CRITERIA = (
    ("accuracy", "min_accuracy", ">=", "ratio"),
    ("p95 latency", "p95_latency_ms", "<=", "ms"),
    ("cost per request", "max_cost_per_request_usd", "<=", "USD"),
    ("error rate", "max_error_rate", "<=", "ratio"),
    ("invalid output rate", "max_invalid_output_rate", "<=", "ratio"),
    # retrieval use cases only (null otherwise: not judged, not shown)
    ("retrieval recall", "min_retrieval_recall", ">=", "ratio"),
    ("hallucination rate", "max_hallucination_rate", "<=", "ratio"),
    ("ungrounded rate", "max_ungrounded_rate", "<=", "ratio"),
)


def judge_criteria(measured: dict[str, float | None], criteria: ExitCriteria) -> list[Criterion]:
    """The measured values (by criterion name) against `criteria`; a value not measured fails; a criterion the
    use case does not set (the retrieval ones of a use case without knowledge) is left out."""
    return [
        Criterion(name, measured.get(name), getattr(criteria, field), comparison, unit)
        for name, field, comparison, unit in CRITERIA
        if getattr(criteria, field) is not None
    ]


LATENCY_ALL = "every request"
LATENCY_WARM = "warm requests (local cold starts set aside)"


@dataclass(frozen=True)
class RunSummary:
    target: str
    model: str
    cases: int
    passed: int
    failed: int
    errors: int
    accuracy: float | None
    error_rate: float
    accuracy_by_tag: dict[str, tuple[int, int]]  # tag -> (passed, scored)
    invalid_outputs: int  # answers that broke the prompt's output schema (after the service's repairs)
    invalid_output_rate: float
    invalid_output_by_tag: dict[str, tuple[int, int]]  # tag -> (invalid, scored), tags with any only
    latency_p50_ms: float | None
    latency_p95_ms: float | None  # what the criterion judged: see latency_basis
    latency_p95_all_ms: float | None  # every answered request, cold starts included
    latency_basis: str  # LATENCY_ALL or LATENCY_WARM
    cold_starts_excluded: int  # answered requests that started a local environment, left out of the criterion
    # local cold starts set aside, in ms: the warm-up's (environments started before the run, so its
    # requests found them warm) and the run's own cold requests
    cold_start_ms: list[float]
    environments_warmed: int
    cost_avg_usd: float | None
    cost_p95_usd: float | None
    cost_total_usd: float
    duration_s: float
    criteria: list[Criterion]
    # retrieval prompts: recall@k, MRR and the hallucination rate with its parts, overall and per tag
    retrieval: RetrievalTally | None = None
    retrieval_by_tag: dict[str, RetrievalTally] = field(default_factory=dict)

    @property
    def verdict(self) -> bool:
        return all(c.passed for c in self.criteria)


@dataclass
class Run:
    summary: RunSummary
    results: list[CaseResult]


def score_case(case: EvalCase, suite: Suite, answer: Answer, judge: Judge | None) -> CaseResult:
    prompt_id = case.prompt_id or suite.prompt_id
    facts = None if case.expect_error else suite.retrieval.get(prompt_id)
    output = scored_output(answer.output, answer.output_json, answer.retrieval) if answer.ok else None
    # the judge's source: the case's input, and for a retrieval answer the passages it was given
    passages = passages_as_source(case.variables, answer.retrieval, answer.citations) if facts and answer.ok else None
    source = passages or case.variables
    case_judge = (lambda rubric, text: judge(rubric, text, source)) if judge else None
    refused = facts is not None and is_refusal(
        output, answer.retrieval, answer.grounding, facts.refusal, None if answer.ok else answer.error_code
    )
    judged = None
    if facts is not None and case_judge is not None and output is not None and not refused:
        if passages is None:
            judged = CheckResult(FAITHFULNESS_CHECK, None, "skipped: the answer carries no passage text to judge")
        else:
            verdict = FAITHFULNESS.evaluate(output, case_judge)
            judged = CheckResult(FAITHFULNESS_CHECK, verdict.passed, verdict.detail)
    score = score_answer(
        output=output,
        error_code=None if answer.ok else answer.error_code,
        error_message=answer.error_message,
        contract=suite.contract_checks(prompt_id),
        checks=(*suite.default_checks, *case.checks),
        blocked_ok=bool(set(case.tags) & set(suite.blocked_passes_tags)),
        expect_error=case.expect_error,
        judge=case_judge,
        answerable=case.answerable or facts is None,
        refused=refused,
        extra=[judged] if judged else (),
    )
    retrieval = None
    if facts is not None and score.status != "error":
        retrieval = score_retrieval(
            output=output,
            retrieval=answer.retrieval,
            grounding=answer.grounding,
            refusal=facts.refusal,
            expected_sources=case.expected_sources,
            answerable=case.answerable,
            top_k=facts.top_k,
            judged=judged,
            error_code=None if answer.ok else answer.error_code,
        )
    return CaseResult(
        case.id, case.tags, score.status, answer, score.checks, invalid_output=score.invalid_output, retrieval=retrieval
    )


def retrieval_tallies(results: list[CaseResult]) -> tuple[RetrievalTally | None, dict[str, RetrievalTally]]:
    """Retrieval over the scored retrieval cases, overall and per tag; (None, {}) when there are none."""
    scored = [r for r in results if r.retrieval is not None]
    if not scored:
        return None, {}
    tags = sorted({tag for r in scored for tag in r.tags})
    by_tag = {tag: tally_retrieval(r.retrieval for r in scored if tag in r.tags) for tag in tags}
    return tally_retrieval(r.retrieval for r in scored), by_tag


def summarize(
    results: list[CaseResult],
    criteria: ExitCriteria,
    *,
    target: str,
    model: str,
    duration_s: float,
    exclude_cold: bool = False,
    warmup_cold_ms: list[float] | None = None,
) -> RunSummary:
    counts = tally(r.status for r in results)
    passed, failed, errors = counts.passed, counts.failed, counts.errors
    answered = [r.answer for r in results if r.answer.ok]
    by_tag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        if r.status == "error":
            continue
        for tag in r.tags:
            by_tag[tag][0] += r.status == "pass"
            by_tag[tag][1] += 1
    accuracy = counts.accuracy
    scored = [r for r in results if r.status != "error"]
    invalid = sum(r.invalid_output for r in scored)
    invalid_rate = invalid / len(scored) if scored else 0.0
    invalid_by_tag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in scored:
        for tag in r.tags:
            invalid_by_tag[tag][0] += r.invalid_output
            invalid_by_tag[tag][1] += 1
    error_rate = errors / len(results) if results else 0.0
    latencies = [a.latency_ms for a in answered]
    judged = [a.latency_ms for a in answered if not (exclude_cold and a.cold_start)]
    costs = [a.cost_usd for a in answered]
    p95 = percentile(judged, 95)
    cost_avg = statistics.fmean(costs) if costs else None
    retrieval, retrieval_by_tag = retrieval_tallies(results)
    return RunSummary(
        target=target,
        model=model,
        cases=len(results),
        passed=passed,
        failed=failed,
        errors=errors,
        accuracy=accuracy,
        error_rate=error_rate,
        accuracy_by_tag={tag: (p, n) for tag, (p, n) in sorted(by_tag.items())},
        invalid_outputs=invalid,
        invalid_output_rate=invalid_rate,
        invalid_output_by_tag={tag: (i, n) for tag, (i, n) in sorted(invalid_by_tag.items()) if i},
        latency_p50_ms=percentile(judged, 50),
        latency_p95_ms=p95,
        latency_p95_all_ms=percentile(latencies, 95),
        latency_basis=LATENCY_WARM if exclude_cold else LATENCY_ALL,
        cold_starts_excluded=len(latencies) - len(judged),
        cold_start_ms=[*(warmup_cold_ms or []), *(a.latency_ms for a in answered if exclude_cold and a.cold_start)],
        environments_warmed=len(warmup_cold_ms or []),
        cost_avg_usd=cost_avg,
        cost_p95_usd=percentile(costs, 95),
        cost_total_usd=sum(costs),
        duration_s=duration_s,
        criteria=judge_criteria(
            {
                "accuracy": accuracy,
                "p95 latency": p95,
                "cost per request": cost_avg,
                "error rate": error_rate,
                "invalid output rate": invalid_rate,
                "retrieval recall": retrieval.recall if retrieval else None,
                "hallucination rate": retrieval.hallucination_rate if retrieval else None,
                "ungrounded rate": retrieval.ungrounded_rate if retrieval else None,
            },
            criteria,
        ),
        retrieval=retrieval,
        retrieval_by_tag=retrieval_by_tag,
    )


def run_cases(
    cases: list[EvalCase],
    suite: Suite,
    target: Target,
    criteria: ExitCriteria,
    *,
    concurrency: int = 8,
    judge: Judge | None = None,
    on_result: Callable[[CaseResult], None] = lambda _r: None,
    model_label: str = "",
    exclude_cold: bool = False,
    warmup_cold_ms: list[float] | None = None,
) -> Run:
    def one(case: EvalCase) -> CaseResult:
        answer = target.answer(case.prompt_id or suite.prompt_id, case.variables)
        result = score_case(case, suite, answer, judge)
        on_result(result)
        return result

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = list(pool.map(one, cases))
    duration = time.perf_counter() - started
    models = sorted({r.answer.model_id for r in results if r.answer.model_id})
    summary = summarize(
        results,
        criteria,
        target=target.name,
        model=model_label or ", ".join(models) or "-",
        duration_s=duration,
        exclude_cold=exclude_cold,
        warmup_cold_ms=warmup_cold_ms,
    )
    return Run(summary, results)


def cheapest_passing(runs: list[Run]) -> Run | None:
    passing = [r for r in runs if r.summary.verdict and r.summary.cost_avg_usd is not None]
    return min(passing, key=lambda r: r.summary.cost_avg_usd) if passing else None


def target_failure(results: list[CaseResult]) -> str | None:
    """When every case errored the same way (a wrong API key's 403, a refused connection, a stage without
    access), the target is unusable: that error, once (`INVALID_API_KEY: Forbidden`); else None. Such a run
    measured nothing about the model, so it must not read as a quality failure."""
    # by the answers, not the statuses: a case expecting a refusal "fails" on a 403 too, but got no answer
    if len(results) < 2 or any(r.answer.ok for r in results):
        return None
    codes = {r.answer.error_code for r in results}
    if len(codes) != 1:
        return None
    first = results[0].answer
    return f"{first.error_code}: {first.error_message}" if first.error_message else first.error_code


def failure_lines(results: list[CaseResult], limit: int = 5) -> list[str]:
    """The first failing and erroring cases, one line each: id, tags and why (the checks that failed, or the
    error), so the terminal says what went wrong without opening the report."""
    lines = []
    for r in results:
        if r.status == "pass":
            continue
        if len(lines) == limit:
            break
        tags = f" [{', '.join(r.tags)}]" if r.tags else ""
        if r.status == "error":
            why = f"error {r.answer.error_code}: {r.answer.error_message}".rstrip(": ")
        else:
            why = "; ".join(f"{c.check}: {c.detail}" if c.detail else c.check for c in r.failed_checks) or "failed"
        lines.append(f"{r.id}{tags}: {why}")
    return lines
