"""What an eval run evaluated, and the record it leaves in the prompt registry.

Every report.json carries `evaluated` (prompt id, version or null for a working-copy file, content
hash, model, guardrail, target, simulated, git commit, eval set hash, stage) and `passed`; a run of a
published version becomes an `EvalEvidence` that `liftoff prompts promote` and `canary` require.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from liftoff import REPO_ROOT
from liftoff.evals.runner import CRITERIA, Criterion, judge_criteria
from liftoff.foundation.config import ExitCriteria
from liftoff.foundation.eval_cases import EvalCase
from service.models.evidence import REAL_MODEL_TARGETS, EvalEvidence

__all__ = [
    "REAL_MODEL_TARGETS",
    "EvalEvidence",
    "Evaluated",
    "eval_set_hash",
    "evidence_from_report",
    "git_commit",
    "judged_today",
    "unmet_today",
]


@dataclass(frozen=True)
class Evaluated:
    """The `evaluated` object of report.json (one source for its keys)."""

    use_case: str
    prompt_id: str
    version: int | None  # None: a working-copy file, not published
    alias: str | None  # the alias the version was resolved from, if any
    content_hash: str | None  # None: pinned through an API whose registry was not read (--url alone)
    model_id: str
    guardrail: dict[str, str] | None  # {"id", "version"} of the guardrail the run applied
    guardrail_applied: bool
    target: str  # local | api | bedrock
    simulated: bool
    git_commit: str | None
    eval_set_hash: str
    stage: str | None
    sample: bool = False  # --limit, --tag or --file left cases of the prompt's eval set out

    def to_dict(self) -> dict:
        return asdict(self)


def eval_set_hash(cases: Iterable[EvalCase]) -> str:
    """sha256 over the canonical JSON of the cases run, in order: the same cases, the same hash."""
    canonical = json.dumps(
        [c.model_dump(mode="json", exclude_none=True) for c in cases], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(  # noqa: S603 - git with our own arguments
            ["git", *args],  # noqa: S607
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit() -> str | None:
    """The commit of the working tree (with `-dirty` when it has uncommitted changes), None outside git."""
    head = _git("rev-parse", "HEAD")
    if not head:
        return None
    return f"{head}-dirty" if _git("status", "--porcelain", "--untracked-files=no") else head


def _criteria(run: dict) -> dict[str, dict]:
    return {
        c["name"]: {
            "value": c["measured"],
            "limit": c["threshold"],
            "met": c["passed"] if c["measured"] is not None else None,
        }
        for c in run["criteria"]
    }


def evidence_from_report(report: dict, report_path: str) -> EvalEvidence | None:
    """The registry record of a report; None when it is not evidence for one published version (a
    working-copy run, or a comparison of several models)."""
    evaluated = report.get("evaluated")
    if (
        not evaluated
        or evaluated.get("version") is None
        or not evaluated.get("content_hash")
        or len(report.get("runs", [])) != 1
    ):
        return None
    guardrail = evaluated.get("guardrail") or {}
    return EvalEvidence(
        use_case=evaluated["use_case"],
        prompt_id=evaluated["prompt_id"],
        version=int(evaluated["version"]),
        content_hash=evaluated["content_hash"],
        model_id=evaluated["model_id"],
        guardrail_id=guardrail.get("id"),
        guardrail_version=guardrail.get("version"),
        guardrail_applied=bool(evaluated["guardrail_applied"]),
        target=evaluated["target"],
        simulated=bool(evaluated["simulated"]),
        git_commit=evaluated.get("git_commit"),
        eval_set_hash=evaluated["eval_set_hash"],
        passed=bool(report["passed"]),
        criteria=_criteria(report["runs"][0]),
        report=report_path,
        created=report["created_at"],
        sample=bool(evaluated.get("sample", False)),
    )


def judged_today(record: EvalEvidence, criteria: ExitCriteria) -> list[Criterion]:
    """The record's measured values against today's exit criteria: a pass under a criterion tightened
    since the run is not met (a loosened one is under scope control, `liftoff scope check`)."""
    return judge_criteria({name: c.get("value") for name, c in record.criteria.items()}, criteria)


def unmet_today(record: EvalEvidence, criteria: ExitCriteria) -> list[str]:
    """What of the record falls short of today's exit criteria: `accuracy 80.0% (min_accuracy 85.0%)`."""
    from liftoff.evals.report import fmt

    fields = {name: field for name, field, _comparison, _unit in CRITERIA}
    return [
        f"{c.name} {fmt(c, c.measured)} ({fields[c.name]} {fmt(c, c.threshold)})"
        for c in judged_today(record, criteria)
        if not c.passed
    ]
