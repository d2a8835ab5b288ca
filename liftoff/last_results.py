"""The last result of `liftoff smoke`, `liftoff load` and `liftoff canary run`, per target, for
`liftoff readiness`: `reports/<use_case>/<kind>.json` maps `local` or a stage name to the newest
result there, with when it was written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from liftoff import REPO_ROOT

KINDS = ("smoke", "load", "canary")


def result_file(use_case: str, kind: str, root: Path = REPO_ROOT) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown result kind {kind!r}")
    return root / "reports" / use_case / f"{kind}.json"


def read_results(use_case: str, kind: str, root: Path = REPO_ROOT) -> dict[str, dict]:
    """Target (`local`, `sandbox`, `prod`) -> its last result; empty when none was written (or unreadable)."""
    path = result_file(use_case, kind, root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_result(use_case: str, kind: str, target: str, result: dict, root: Path = REPO_ROOT) -> Path:
    """Keep `result` as the last `kind` result on `target`, stamped with the time (UTC)."""
    path = result_file(use_case, kind, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    results = read_results(use_case, kind, root)
    results[target] = {**result, "target": target, "created": datetime.now(UTC).isoformat(timespec="seconds")}
    path.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return path
