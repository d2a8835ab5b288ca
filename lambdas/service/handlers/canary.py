"""The golden canary: on a schedule, the use case's golden eval cases go through the same invoke logic
as the API (prompt resolution, guardrail, cost accounting, spend counter) and are scored with the same
checks and the same policy as `liftoff eval` (service/evalcore): accuracy = pass / (pass + fail), a
case without an answer (spend cap, throttling, access denied) is an error apart, never a wrong answer,
and a case with `expect_error` passes when it is refused with that code.

Each prompt's cases run against the version `live` serves (its stable version), and, while `live` has a
prompt canary, against the canary version too, so a bad canary is seen on its own. Published per run
(dimensions UseCase, Stage; versions as properties):
- CanaryAccuracy, CanaryLatencyP95, CanaryCostUSD: the stable versions;
- CanaryVersionAccuracy: the canary versions, when any (its alarm ends the canary: canary_rollback.py);
- CanaryUnanswered: cases of the run without an answer (both roles);
- CanaryRetrievalRecall, CanaryHallucinationRate: retrieval prompts' stable versions (service/evalcore/retrieval.py,
  as `liftoff eval` scores them: recall@k over the cases naming expected sources; answered unanswerable questions
  and ungrounded answers per answered case; the canary has no judge, so judged-unfaithful answers are not counted),
  each published only when measured.
An accuracy is published only when at least one case was answered: a run where nothing was answered
says nothing about the prompt, and its missing accuracy is what the CanaryAccuracy alarm treats as
breaching (stacks/constructs/monitoring.py).

The run is bounded (liftoff/foundation/canary.py checks the arithmetic at synth): cases run `budget.concurrency`
at a time, each with its own clients, and a case starts only while its worst case (`budget.case_s`)
still fits before the function's deadline; a case that does not is an error (`CanaryOutOfTime`).

The event is the payload `liftoff/foundation/canary.py` builds at synth (the schedule's input):
{"golden_canary": {"contracts": {prompt_id: [check...]}, "retrieval": {prompt_id: {refusal, top_k}}, "cases": [{id,
prompt_id, variables, checks, blocked_ok, expect_error, expected_sources, answerable}], "budget": {case_s, concurrency,
timeout_s}}} (`retrieval` and a case's `expected_sources`/`answerable` for retrieval prompts only).
"""

from __future__ import annotations

import queue
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import TypeAdapter

from service.dal.prompt_store import LIVE_ALIAS
from service.evalcore.checks import Check
from service.evalcore.retrieval import is_refusal, score_retrieval, scored_output, tally_retrieval
from service.evalcore.score import score_answer, tally
from service.evalcore.stats import percentile
from service.handlers.invoke import get_deps
from service.logic.invoke import InvokeDeps, invoke
from service.models.errors import ServiceError
from service.models.invoke import InvokeRequest
from service.observability import logger, metrics
from service.settings import get_settings

_CHECKS = TypeAdapter(list[Check])
OUT_OF_TIME = "CanaryOutOfTime"
FINISH_RESERVE_S = 5.0  # after the last case: the metrics and the log line
clock = time.monotonic  # the deadline's clock (a test moves it)


class Deadline:
    """When the run must be over: the function's remaining time (its own timeout in local mode, whose
    context speaks for the API's function), less what publishing the result needs."""

    def __init__(self, context: Any, timeout_s: float):
        remaining_s = context.get_remaining_time_in_millis() / 1000 if context is not None else timeout_s
        self._at = clock() + min(remaining_s, timeout_s) - FINISH_RESERVE_S

    def fits(self, seconds: float) -> bool:
        return clock() + seconds <= self._at


def _one_case(
    case: dict, version: int, *, run_id: str, deps: InvokeDeps, checks: list, contract: list, facts: dict | None = None
) -> dict:
    """One case through the invoke path, scored; `facts` (refusal, top_k) when its prompt retrieves."""
    request = InvokeRequest(prompt_id=case["prompt_id"], variables=case["variables"], version=version)
    started = time.perf_counter()
    output, error_code, error_message, cost, retrieval, grounding = None, None, "", 0.0, None, None
    try:
        outcome = invoke(request, request_id=f"{run_id}-{case['id']}"[:128], deps=deps)
        retrieval = getattr(outcome.response, "retrieval", None)
        grounding = getattr(outcome.response, "grounding", None)
        output = scored_output(outcome.response.output, getattr(outcome.response, "output_json", None), retrieval)
        cost = outcome.response.cost_usd
    except ServiceError as exc:
        error_code, error_message, cost = exc.code, exc.message, exc.cost_usd
        # a grounding BLOCK is a 422: what the check found comes with the error (counted ungrounded, as in production)
        grounding = getattr(exc.retrieval_report, "grounding", None)
    facts = None if case.get("expect_error") else facts
    refused = facts is not None and is_refusal(output, retrieval, grounding, facts["refusal"], error_code)
    answerable = case.get("answerable", True)
    score = score_answer(
        output=output,
        error_code=error_code,
        error_message=error_message,
        contract=contract,
        checks=checks,
        blocked_ok=case.get("blocked_ok", False),
        expect_error=case.get("expect_error"),
        answerable=answerable or facts is None,
        refused=refused,
    )
    latency_ms = (time.perf_counter() - started) * 1000
    scored = {
        "id": case["id"],
        "status": score.status,
        "error_code": error_code,
        "latency_ms": latency_ms,
        "cost": cost,
    }
    if facts is not None and score.status != "error":
        scored["retrieval"] = score_retrieval(
            output=output,
            retrieval=retrieval,
            grounding=grounding,
            refusal=facts["refusal"],
            expected_sources=case.get("expected_sources", []),
            answerable=answerable,
            top_k=facts["top_k"],
            error_code=error_code,
        )
    return scored


def _summary(scored: list[dict]) -> dict:
    """One role's run, under the eval's policy (evalcore.score.tally)."""
    counts = tally(s["status"] for s in scored)
    answered = [s["latency_ms"] for s in scored if s["status"] != "error"]
    return {
        "cases": len(scored),
        "passed": counts.passed,
        "failed_count": counts.failed,
        "errors": counts.errors,
        "accuracy": counts.accuracy,
        "latency_p95_ms": round(percentile(answered, 95) or 0),
        "cost_usd": round(sum(s["cost"] for s in scored), 8),
        "failed": [s["id"] for s in scored if s["status"] == "fail"],
        "unanswered": {s["id"]: s["error_code"] for s in scored if s["status"] == "error"},
        **_retrieval_summary([s["retrieval"] for s in scored if "retrieval" in s]),
    }


def _retrieval_summary(scores: list) -> dict:
    """The retrieval figures of a role's run (nothing for a use case without retrieval)."""
    if not scores:
        return {}
    t = tally_retrieval(scores)
    return {
        "retrieval_recall": t.recall,
        "mrr": t.mrr,
        "hallucination_rate": t.hallucination_rate,
        "answered_unanswerable": t.answered_unanswerable,
        "ungrounded": t.ungrounded,
        "ungrounded_rate": t.ungrounded_rate,
        "hallucinated": t.hallucinated,
    }


def run_roles(
    roles: dict[str, tuple[list[dict], dict[str, int]]],
    checks: dict[str, list],
    contracts: dict[str, list],
    *,
    run_id: str,
    case_s: float,
    concurrency: int,
    deadline: Deadline,
    retrieval: dict[str, dict] | None = None,
) -> dict[str, dict]:
    """Every (role, case) against the role's version of the case's prompt, `concurrency` at a time, each
    case with clients of its own (boto3 resources are not shared across threads); a case starts only
    while its worst case fits before the deadline."""
    jobs = [(role, case, versions[case["prompt_id"]]) for role, (cases, versions) in roles.items() for case in cases]
    workers = max(1, min(concurrency, len(jobs)))
    pool: queue.SimpleQueue[InvokeDeps] = queue.SimpleQueue()
    pool.put(get_deps())
    for _ in range(workers - 1):
        pool.put(get_deps.__wrapped__())  # same settings, own clients and caches

    def run(job: tuple[str, dict, int]) -> tuple[str, dict]:
        role, case, version = job
        if not deadline.fits(case_s):
            return role, {"id": case["id"], "status": "error", "error_code": OUT_OF_TIME, "latency_ms": 0, "cost": 0}
        deps = pool.get()
        try:
            suffix = "" if role == "stable" else "-c"
            contract = contracts.get(case["prompt_id"], [])
            return role, _one_case(
                case,
                version,
                run_id=run_id + suffix,
                deps=deps,
                checks=checks[case["id"]],
                contract=contract,
                facts=(retrieval or {}).get(case["prompt_id"]),
            )
        finally:
            pool.put(deps)

    with ThreadPoolExecutor(max_workers=workers) as executor:
        results = list(executor.map(run, jobs))
    return {role: _summary([r for rr, r in results if rr == role]) for role in roles}


@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict, context: Any) -> dict:
    settings = get_settings()
    metrics.set_default_dimensions(UseCase=settings.use_case, Stage=settings.stage)
    golden = event["golden_canary"]
    budget = golden["budget"]
    deadline = Deadline(context, budget["timeout_s"])
    store = get_deps().resolver.store  # the registry the API reads
    stable, canaries = {}, {}
    for prompt_id in sorted({case["prompt_id"] for case in golden["cases"]}):
        alias = store.get_alias(prompt_id, LIVE_ALIAS)
        if alias is None:
            continue
        stable[prompt_id] = alias.version
        if alias.canary_version is not None:
            canaries[prompt_id] = alias.canary_version
    run_id = f"canary-{uuid.uuid4().hex[:12]}"
    cases = [c for c in golden["cases"] if c["prompt_id"] in stable]
    contracts = {prompt_id: _CHECKS.validate_python(checks) for prompt_id, checks in golden["contracts"].items()}
    checks = {case["id"]: _CHECKS.validate_python(case["checks"]) for case in cases}
    roles = {"stable": (cases, stable)}
    if canaries:
        roles["canary"] = ([c for c in cases if c["prompt_id"] in canaries], canaries)
    runs = run_roles(
        roles,
        checks,
        contracts,
        run_id=run_id,
        case_s=budget["case_s"],
        concurrency=budget["concurrency"],
        deadline=deadline,
        retrieval=golden.get("retrieval"),
    )
    result = {"stable": runs["stable"], "stable_versions": stable}
    if result["stable"]["accuracy"] is not None:
        metrics.add_metric(name="CanaryAccuracy", unit=MetricUnit.NoUnit, value=result["stable"]["accuracy"])
        metrics.add_metric(
            name="CanaryLatencyP95", unit=MetricUnit.Milliseconds, value=result["stable"]["latency_p95_ms"]
        )
    metrics.add_metric(name="CanaryCostUSD", unit=MetricUnit.NoUnit, value=result["stable"]["cost_usd"])
    for name, key in (("CanaryRetrievalRecall", "retrieval_recall"), ("CanaryHallucinationRate", "hallucination_rate")):
        if result["stable"].get(key) is not None:  # measured: a retrieval prompt, and a case to measure it on
            metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=result["stable"][key])
    metrics.add_metadata(key="PromptVersions", value=stable)
    if canaries:
        result["canary"] = runs["canary"]
        result["canary_versions"] = canaries
        if result["canary"]["accuracy"] is not None:
            metrics.add_metric(name="CanaryVersionAccuracy", unit=MetricUnit.NoUnit, value=result["canary"]["accuracy"])
        metrics.add_metadata(key="CanaryVersions", value=canaries)
    unanswered = sum(run["errors"] for run in runs.values())
    metrics.add_metric(name="CanaryUnanswered", unit=MetricUnit.Count, value=unanswered)
    logger.info("golden canary", extra={"run_id": run_id, **result})
    return result
