"""Whose alarm is it? A prompt canary's alarms (stacks/constructs/monitoring.py) watch metrics without a
version dimension (versions change at run time; an alarm's dimensions are fixed at deploy), so an alarm
can fire late, for a canary that has already ended: a person aborts v2, starts v3, and v2's alarm then
changes state. The rollback function ends a canary only when the alarm can only be about that canary:

- the alarm changed state after the canary started;
- the data it evaluated (CloudWatch's `reasonData.evaluatedDatapoints`, each a period long) ends after the
  canary started;
- and no earlier canary (of any version) was running during that data: otherwise it may be the earlier
  version's. A long period (a daily golden canary) that spans two canaries is therefore not acted on; the
  next period's datapoint, which is this canary's alone, is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.dal.prompt_store import PromptAlias


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AlarmEvidence:
    """What an alarm's state change says about when, and on what data, it fired."""

    name: str
    raised_at: datetime | None
    data_from: datetime | None  # the oldest evaluated datapoint's start
    data_until: datetime | None  # the newest evaluated datapoint's end

    @classmethod
    def from_event(cls, event: dict) -> AlarmEvidence:
        """From EventBridge's "CloudWatch Alarm State Change" event."""
        detail = event.get("detail") or {}
        state = detail.get("state") or {}
        try:
            reason = json.loads(state.get("reasonData") or "{}")
        except ValueError:
            reason = {}
        stamps = sorted(
            t for t in (_time(p.get("timestamp")) for p in reason.get("evaluatedDatapoints") or []) if t is not None
        )
        period = timedelta(seconds=float(reason.get("period") or 0))
        return cls(
            name=detail.get("alarmName", "an alarm"),
            raised_at=_time(state.get("timestamp")) or _time(event.get("time")),
            data_from=stamps[0] if stamps else None,
            data_until=stamps[-1] + period if stamps else None,
        )


def canary_runs(alias: PromptAlias) -> list[tuple[int, datetime, datetime | None]]:
    """Every canary of the alias's history: (version, started, ended; None while it runs)."""
    runs: list[tuple[int, datetime, datetime | None]] = []
    for entry in alias.history:
        at = _time(entry.get("at"))
        if at is None:
            continue
        if runs and runs[-1][2] is None:
            runs[-1] = (runs[-1][0], runs[-1][1], at)  # any later move ends the running canary
        if entry.get("action") == "canary" and entry.get("canary"):
            runs.append((int(entry["canary"]["version"]), at, None))
    return runs


def not_this_canarys(alias: PromptAlias, alarm: AlarmEvidence) -> str | None:
    """Why `alarm` may not be about the alias's running canary; None when it can only be."""
    runs = canary_runs(alias)
    if not runs or runs[-1][2] is not None or runs[-1][0] != alias.canary_version:
        return None  # no history of this canary's start: nothing to compare with (a person's move decides)
    version, started, _ = runs[-1]
    if alarm.raised_at is not None and alarm.raised_at < started:
        return f"{alarm.name} changed state at {alarm.raised_at.isoformat()}, before canary v{version} started"
    if alarm.data_until is not None and alarm.data_until <= started:
        return f"{alarm.name} evaluated data up to {alarm.data_until.isoformat()}, before canary v{version} started"
    if alarm.data_from is not None:
        for other, other_started, ended in runs[:-1]:
            if ended is not None and ended > alarm.data_from and other_started < (alarm.data_until or ended):
                return (
                    f"{alarm.name} evaluated data from {alarm.data_from.isoformat()}, while canary v{other} was "
                    f"running (until {ended.isoformat()}): it may be v{other}'s"
                )
    return None
