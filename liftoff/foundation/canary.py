"""The golden canary's input: the golden cases of a use case with every check they are scored by
(the prompt's output contract, the suite's defaults, the case's own, `expect_error`), and the time
budget of a run, as the JSON the scheduled canary function receives (service/handlers/canary.py).
Built at synth, so the schedule carries the eval set of the commit that was deployed; `liftoff canary
run` sends the same thing locally.

The budget: a run must end inside the function's timeout even when every model call times out. One
case's worst case is its Retrieve (a knowledge use case: `knowledge.retrieval_budget_seconds`), then every
model call it may make (the first, and each repair of the output contract) taking the models' whole
attempt budget (`models.model_budget_seconds`), plus its DynamoDB calls; the
cases run `monitoring.canary.concurrency` at a time, on the stable version and, during a prompt canary,
on the canary's version too. That worst case must fit CANARY_TIMEOUT_S less CANARY_HEADROOM_S, or the
synth fails naming the field; the function also starts a case only while its worst case still fits
(it is then an error, never a wrong answer)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from liftoff import REPO_ROOT
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import golden_cases, load_suite
from liftoff.foundation.usecases import USECASES_DIR, UseCase, load_use_case
from service.dal.dynamodb import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, TOTAL_ATTEMPTS

CANARY_TIMEOUT_S = 900  # Lambda's longest
CANARY_HEADROOM_S = 15  # publishing the metrics and the log line after the last case
DYNAMODB_CALLS_PER_CASE = 3  # the prompt's alias (when not cached), the spend check, the spend ADD
ROLES = 2  # the stable version, and a prompt canary's version


@dataclass(frozen=True)
class CanaryBudget:
    """The worst case of one golden run, and what the function needs to stay inside it."""

    cases: int
    concurrency: int
    case_s: float  # one case's worst case

    @property
    def rounds(self) -> int:
        return math.ceil(ROLES * self.cases / self.concurrency)

    @property
    def worst_run_s(self) -> float:
        return self.rounds * self.case_s + CANARY_HEADROOM_S


def canary_budget(use_case: UseCase, cases: int) -> CanaryBudget:
    """The worst case of a run of `cases` golden cases; ConfigError (file and field) when it cannot fit."""
    config = use_case.config
    repairs = max((p.output.repair_attempts for p in use_case.prompts if p.output.format == "json"), default=0)
    dynamodb_s = DYNAMODB_CALLS_PER_CASE * TOTAL_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S)
    retrieval_s = config.knowledge.retrieval_budget_seconds if config.knowledge else 0.0
    budget = CanaryBudget(
        cases=cases,
        concurrency=config.monitoring.canary.concurrency,
        case_s=retrieval_s + (1 + repairs) * config.models.model_budget_seconds + dynamodb_s,
    )
    if budget.worst_run_s > CANARY_TIMEOUT_S:
        raise ConfigError(
            f"{USECASES_DIR}/{config.name}.yaml: field `monitoring.canary.concurrency` ({budget.concurrency}): "
            f"{cases} golden cases x {ROLES} (stable and a prompt canary's version) / {budget.concurrency} = "
            f"{budget.rounds} rounds x {budget.case_s:g}s per case ("
            + (f"retrieval {retrieval_s:g}s + " if retrieval_s else "")
            + f"1 + {repairs} repair calls x "
            f"models.model_budget_seconds {config.models.model_budget_seconds:g}s + DynamoDB {dynamodb_s:g}s) "
            f"+ {CANARY_HEADROOM_S}s = {budget.worst_run_s:g}s exceeds the canary function's {CANARY_TIMEOUT_S}s "
            f"timeout; raise it, or choose fewer golden cases (evals/{config.name}/suite.yaml `golden`)"
        )
    return budget


def canary_payload(use_case: str, root: Path = REPO_ROOT) -> dict:
    suite = load_suite(use_case, root)
    cases, contracts, retrieval = [], {}, {}
    for case in golden_cases(use_case, root):
        prompt_id = case.prompt_id or suite.prompt_id
        facts = suite.retrieval.get(prompt_id)
        if facts is not None:
            retrieval[prompt_id] = {"refusal": facts.refusal, "top_k": facts.top_k}
        contracts[prompt_id] = [
            c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in suite.contract_checks(prompt_id)
        ]
        cases.append(
            {
                "id": case.id,
                "prompt_id": prompt_id,
                "variables": case.variables,
                "checks": [
                    c.model_dump(mode="json", by_alias=True, exclude_none=True)
                    for c in (*suite.default_checks, *case.checks)
                ],
                "blocked_ok": bool(set(case.tags) & set(suite.blocked_passes_tags)),
                **({"expect_error": case.expect_error} if case.expect_error else {}),  # CDK drops nulls
                **(
                    {"expected_sources": case.expected_sources, "answerable": case.answerable}
                    if facts is not None
                    else {}
                ),
            }
        )
    budget = canary_budget(load_use_case(use_case, root), len(cases))
    return {
        "golden_canary": {
            "contracts": contracts,
            **({"retrieval": retrieval} if retrieval else {}),  # prompt id -> refusal, top_k: retrieval prompts
            "cases": cases,
            "budget": {"case_s": budget.case_s, "concurrency": budget.concurrency, "timeout_s": CANARY_TIMEOUT_S},
        }
    }
