"""The golden canary's input: the golden cases of a use case with every check they are scored by
(the prompt's output contract, the suite's defaults, the case's own), as the JSON the scheduled
canary function receives (service/handlers/canary.py). Built at synth, so the schedule carries the
eval set of the commit that was deployed; `liftoff canary run` sends the same thing locally."""

from __future__ import annotations

from pathlib import Path

from liftoff import REPO_ROOT
from liftoff.evals.cases import golden_cases, load_suite


def canary_payload(use_case: str, root: Path = REPO_ROOT) -> dict:
    suite = load_suite(use_case, root)
    cases, contracts = [], {}
    for case in golden_cases(use_case, root):
        prompt_id = case.prompt_id or suite.prompt_id
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
            }
        )
    return {"golden_canary": {"contracts": contracts, "cases": cases}}
