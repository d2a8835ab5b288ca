"""The golden canary: on a schedule, the use case's golden eval cases go through the same invoke logic
as the API (prompt resolution, guardrail, cost accounting, spend counter) and are scored with the same
checks as `liftoff eval` (service/evalcore). The definition of done keeps being measured after launch.

Each prompt's cases run against the version `live` serves (its stable version), and, while `live` has a
prompt canary, against the canary version too, so a bad canary is seen on its own. Published per run
(dimensions UseCase, Stage; versions as properties):
- CanaryAccuracy, CanaryLatencyP95, CanaryCostUSD: the stable versions;
- CanaryVersionAccuracy: the canary versions, when any (its alarm ends the canary: canary_rollback.py).

The event is the payload `liftoff/canary.py` builds at synth (the schedule's input):
{"golden_canary": {"contracts": {prompt_id: [check...]}, "cases": [{id, prompt_id, variables, checks,
blocked_ok}]}}.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import TypeAdapter

from service.dal.prompt_store import LIVE_ALIAS
from service.evalcore.checks import Check
from service.evalcore.score import score_answer
from service.evalcore.stats import percentile
from service.handlers.invoke import get_deps
from service.logic.invoke import invoke
from service.models.errors import ServiceError
from service.models.invoke import InvokeRequest
from service.observability import logger, metrics
from service.settings import get_settings

_CHECKS = TypeAdapter(list[Check])


def run_cases(
    cases: list[dict], checks: dict[str, list], contracts: dict[str, list], version_of: dict[str, int], run_id: str
) -> dict:
    """Every case against the version `version_of[prompt_id]`; what passed, how long, what it cost.
    `checks` (by case id) and `contracts` (by prompt id) are validated once per run, not once per pass."""
    deps = get_deps()
    scored, latencies, cost = [], [], 0.0
    for case in cases:
        request = InvokeRequest(
            prompt_id=case["prompt_id"], variables=case["variables"], version=version_of[case["prompt_id"]]
        )
        started = time.perf_counter()
        output, error_code, error_message = None, None, ""
        try:
            outcome = invoke(request, request_id=f"{run_id}-{case['id']}"[:128], deps=deps)
            output, cost = outcome.response.output, cost + outcome.response.cost_usd
        except ServiceError as exc:
            error_code, error_message, cost = exc.code, exc.message, cost + exc.cost_usd
        latencies.append((time.perf_counter() - started) * 1000)
        score = score_answer(
            output=output,
            error_code=error_code,
            error_message=error_message,
            contract=contracts.get(case["prompt_id"], []),
            checks=checks[case["id"]],
            blocked_ok=case.get("blocked_ok", False),
        )
        scored.append({"id": case["id"], "status": score.status, "error_code": error_code})
    passed = sum(1 for s in scored if s["status"] == "pass")
    return {
        "cases": len(scored),
        "passed": passed,
        "accuracy": passed / len(scored) if scored else None,
        "latency_p95_ms": round(percentile(latencies, 95) or 0),
        "cost_usd": round(cost, 8),
        "failed": [s["id"] for s in scored if s["status"] != "pass"],
    }


@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict, context: Any) -> dict:
    settings = get_settings()
    metrics.set_default_dimensions(UseCase=settings.use_case, Stage=settings.stage)
    golden = event["golden_canary"]
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
    result = {"stable": run_cases(cases, checks, contracts, stable, run_id), "stable_versions": stable}
    metrics.add_metric(name="CanaryAccuracy", unit=MetricUnit.NoUnit, value=result["stable"]["accuracy"] or 0.0)
    metrics.add_metric(name="CanaryLatencyP95", unit=MetricUnit.Milliseconds, value=result["stable"]["latency_p95_ms"])
    metrics.add_metric(name="CanaryCostUSD", unit=MetricUnit.NoUnit, value=result["stable"]["cost_usd"])
    metrics.add_metadata(key="PromptVersions", value=stable)
    if canaries:
        on_canary = [c for c in cases if c["prompt_id"] in canaries]
        result["canary"] = run_cases(on_canary, checks, contracts, canaries, f"{run_id}-c")
        result["canary_versions"] = canaries
        metrics.add_metric(
            name="CanaryVersionAccuracy", unit=MetricUnit.NoUnit, value=result["canary"]["accuracy"] or 0.0
        )
        metrics.add_metadata(key="CanaryVersions", value=canaries)
    logger.info("golden canary", extra={"run_id": run_id, **result})
    return result
