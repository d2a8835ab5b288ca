"""`liftoff eval harvest`: rated production requests become candidate eval cases.

Reads the capture table's `by-rating` index (a Query per rating, never a Scan) for requests rated since
a time, and turns each captured one into a case of `evals/<use_case>/harvested.jsonl`:
- variables: the captured variables (already PII-redacted at capture);
- checks: from the rater's correction when there is one (an object: a `json_field` check per short
  field; text: a `contains` check when it is short), else none and the tag `needs_review`;
- tags: `harvested` and `rating:<rating>`.
A rating without a capture (capture off, or not sampled) has no variables to replay and is counted,
not written. A case whose normalised variables equal an existing case's is a duplicate and skipped.
The file is appended to, so a reviewed case keeps its edits; `liftoff eval run` picks it up (every
*.jsonl of the folder).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from liftoff.evals.checks import normalise
from liftoff.foundation.eval_cases import EvalCase, load_cases, suite_dir
from service.dal.capture_store import CaptureStore

HARVEST_FILE = "harvested.jsonl"
MAX_EXPECTED_CHARS = 80  # longer corrections (a summary, a paragraph) are not checked word for word


@dataclass
class Harvest:
    written: list[EvalCase] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def _key(variables: dict[str, str]) -> str:
    return json.dumps({k: normalise(v) for k, v in sorted(variables.items())}, ensure_ascii=False)


def checks_from(correction: Any) -> list[dict]:
    """What the corrected answer must contain, in the eval's check format."""
    if isinstance(correction, dict):
        return [
            {"type": "json_field", "path": name, "equals": value}
            for name, value in correction.items()
            if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= MAX_EXPECTED_CHARS)
        ]
    if isinstance(correction, str) and correction.strip() and len(correction) <= MAX_EXPECTED_CHARS:
        return [{"type": "contains", "value": correction.strip()}]
    return []


def _case(item: dict) -> EvalCase:
    checks = checks_from(item.get("correction"))
    rating = item["rating"]
    return EvalCase.model_validate(
        {
            "id": f"harvested-{item['pk'][:40]}".replace(" ", "-"),
            "prompt_id": item.get("prompt_id"),
            "variables": {k: str(v) for k, v in item["variables"].items()},
            "checks": checks,
            "tags": ["harvested", f"rating:{rating}", *([] if checks else ["needs_review"])],
            "source": f"rated {rating} at {item.get('rated_at')}, prompt v{item.get('prompt_version')}",
        }
    )


def harvest(
    store: CaptureStore, use_case: str, *, ratings: tuple[str, ...], since: timedelta, root: Path | None = None
) -> Harvest:
    """Write new candidate cases to evals/<use_case>/harvested.jsonl; say what was found."""
    kwargs = {"root": root} if root else {}
    directory = suite_dir(use_case, **kwargs)
    existing = load_cases(use_case, **kwargs)
    seen = {_key(case.variables) for case in existing}
    ids = {case.id for case in existing}
    start = (datetime.now(UTC) - since).isoformat(timespec="seconds")
    result = Harvest()
    for rating in ratings:
        for item in store.rated(rating, start):
            result.counts[f"rated {rating}"] += 1
            if not item.get("variables"):
                result.counts["rating only (not captured)"] += 1
                continue
            case = _case(item)
            if _key(case.variables) in seen or case.id in ids:
                result.counts["duplicate of an existing case"] += 1
                continue
            seen.add(_key(case.variables))
            ids.add(case.id)
            result.written.append(case)
            result.counts["written" + ("" if case.checks else " (needs_review: no checkable correction)")] += 1
    if result.written:
        with (directory / HARVEST_FILE).open("a", encoding="utf-8") as out:
            for case in result.written:
                out.write(case.to_line() + "\n")
    return result
