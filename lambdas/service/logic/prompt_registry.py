"""Registry operations people run (via `liftoff prompts ...`): promote, rollback, canary.
Each one reads the alias, checks the target version exists, then moves the alias with an
optimistic lock, so two concurrent moves never silently overwrite each other.

A version reaches an alias (promote, canary) only with a `Proof`: the newest eval record of that exact
version and content hash passed (a deployed registry counts real-model records only), or a person
forced it with a reason. Either goes into the alias's history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service.dal.prompt_store import LIVE_ALIAS, AliasConflict, PromptAlias, PromptStore, PromptVersion
from service.models.errors import BadRequest, PromptNotFound, ServiceError
from service.models.evidence import EvalEvidence

# moves that change the version an alias serves (the others start or end a canary on it)
_CANARY_ACTIONS = frozenset({"canary", "canary-abort", "auto-rollback"})


class EvidenceMissing(ServiceError):
    """The version has no passing eval record for its content: evaluate it first (or force, with a reason)."""

    status = 409
    code = "EvidenceMissing"


@dataclass(frozen=True)
class Proof:
    """Why a version may serve: its eval record (None when forced without one) and a person's reason."""

    evidence: EvalEvidence | None
    reason: str | None = None  # --force --reason TEXT

    def history_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if self.evidence is not None:
            e = self.evidence
            entry |= {
                "report": e.report,
                "passed": e.passed,
                "target": e.target,
                "simulated": e.simulated,
                "created": e.created,
                "content_hash": e.content_hash,
            }
            if e.sample:
                entry["sample"] = True
        if self.reason is not None:
            entry |= {"forced": True, "reason": self.reason}
        return entry


def _require_version(store: PromptStore, prompt_id: str, version: int) -> PromptVersion:
    found = store.get_version(prompt_id, version)
    if found is None:
        latest = store.latest_version(prompt_id)
        hint = f"latest is v{latest.version}" if latest else "it has no versions: publish it first"
        raise PromptNotFound(f"prompt `{prompt_id}` has no version {version} ({hint})")
    return found


def eval_command(use_case: str, version: int, stage: str | None) -> str:
    """The command that evaluates `version` where it will serve (and records the result there)."""
    where = f" --target api --stage {stage}" if stage else ""
    return f"liftoff eval run --use-case {use_case} --version {version}{where}"


def accepted_evidence(store: PromptStore, found: PromptVersion, *, deployed: bool) -> list[EvalEvidence]:
    """The version's eval records that count here, newest first: same content hash; on a deployed
    registry, the whole eval set measured on a real model only (local mode accepts the simulator's and a
    sample's, labelled as such)."""
    return [
        e
        for e in store.list_evidence(found.prompt_id, found.version)
        if e.content_hash == found.content_hash and (e.conclusive or not deployed)
    ]


def prove(
    store: PromptStore,
    prompt_id: str,
    version: int,
    *,
    stage: str | None,
    force_reason: str | None = None,
    unmet: Callable[[EvalEvidence], list[str]] = lambda _record: [],
) -> Proof:
    """The proof that `version` may serve, or EvidenceMissing naming the command to run. `stage` None is
    local mode; `force_reason` overrides a missing or failing record (and is kept in the history);
    `unmet` says what of a passing record falls short of today's exit criteria (tightened since)."""
    found = _require_version(store, prompt_id, version)
    records = accepted_evidence(store, found, deployed=stage is not None)
    newest = records[0] if records else None
    if force_reason is not None:
        return Proof(newest, force_reason)
    missed = unmet(newest) if newest is not None and newest.passed else []
    if newest is not None and newest.passed and not missed:
        return Proof(newest)
    command = eval_command(store.use_case, version, stage)
    what = f"`{prompt_id}` v{version} (sha256:{found.content_hash[:12]})"
    if missed:
        problem = (
            f"the newest eval of {what} passed on its day but does not meet today's exit criteria: "
            f"{', '.join(missed)} ({newest.report})"
        )
    elif newest is not None:
        problem = f"the newest eval of {what} failed its exit criteria ({newest.report})"
    else:
        kind = "of the whole eval set on a real model " if stage is not None else ""
        problem = f"{what} has no eval record {kind}in {'the ' + stage if stage else 'the local'} registry"
    raise EvidenceMissing(
        f"{problem}: run `{command}` and promote it once it passes "
        "(or override with --force --reason TEXT, which the alias history keeps)"
    )


def promote(
    store: PromptStore,
    prompt_id: str,
    *,
    version: int,
    alias: str,
    author: str,
    proof: Proof,
    note: str | None = None,
) -> PromptAlias:
    """Point `alias` at `version`; ends any canary on it."""
    _require_version(store, prompt_id, version)
    current = store.get_alias(prompt_id, alias)
    return store.move_alias(
        prompt_id,
        alias,
        version=version,
        current=current,
        author=author,
        action="promote",
        evidence=proof.history_entry(),
        note=note,
    )


def served_versions(history: list[dict[str, Any]]) -> list[int]:
    """The versions the alias served, oldest first, with the ones rolled back taken off: a rollback
    steps back one entry of this list (v3 -> v2 -> v1), never toward the version it left."""
    stack: list[int] = []
    for entry in history:
        version = int(entry["version"])
        if entry["action"] in _CANARY_ACTIONS or (stack and stack[-1] == version):
            continue
        if entry["action"] == "rollback":
            while stack and stack[-1] != version:
                stack.pop()
            if not stack:
                stack.append(version)
        else:
            stack.append(version)
    return stack


def rollback(store: PromptStore, prompt_id: str, *, alias: str, author: str, to: int | None = None) -> PromptAlias:
    """Step the alias back: during a canary, end the canary (the alias keeps its stable version);
    otherwise point it at the version it served before the current one (each rollback one further
    back), or at `to`."""
    current = store.get_alias(prompt_id, alias)
    if current is None:
        raise PromptNotFound(f"prompt `{prompt_id}` has no alias `{alias}`")
    if current.canary_version is not None and to is None:
        return _end_canary(store, current, author=author, action="rollback")
    if to is None:
        earlier = [v for v in served_versions(current.history) if v != current.version]
        if not earlier:
            raise BadRequest(
                f"alias `{alias}` of `{prompt_id}` served no earlier version: nothing to roll back to "
                "(pick one with --to N)"
            )
        to = earlier[-1]
    elif to == current.version and current.canary_version is None:
        raise BadRequest(f"alias `{alias}` of `{prompt_id}` already serves v{to}")
    found = _require_version(store, prompt_id, to)
    if to not in {int(entry["version"]) for entry in current.history}:
        # a version it never served is not a step back: that is a promote, which needs its eval record
        raise BadRequest(
            f"alias `{alias}` of `{prompt_id}` never served v{to}, so there is nothing to roll back to: "
            f"run `liftoff prompts promote {prompt_id} {to}` (it needs v{to}'s passing eval record)"
        )
    records = accepted_evidence(store, found, deployed=False)
    return store.move_alias(
        prompt_id,
        alias,
        version=to,
        current=current,
        author=author,
        action="rollback",
        evidence=Proof(records[0]).history_entry() if records else None,
    )


def abort_canary(store: PromptStore, prompt_id: str, *, alias: str, author: str) -> PromptAlias:
    """End the alias's canary: every request goes to the stable version again."""
    current = store.get_alias(prompt_id, alias)
    if current is None or current.canary_version is None:
        raise BadRequest(f"alias `{alias}` of `{prompt_id}` has no canary to abort")
    return _end_canary(store, current, author=author, action="canary-abort")


def _end_canary(
    store: PromptStore, current: PromptAlias, *, author: str, action: str, note: str | None = None
) -> PromptAlias:
    """The alias keeps its stable version, without the canary (optimistic lock as every move)."""
    return store.move_alias(
        current.prompt_id,
        current.name,
        version=current.version,
        current=current,
        author=author,
        action=action,
        note=note,
    )


AUTO_ROLLBACK = "auto-rollback"


def auto_rollback(
    store: PromptStore,
    prompt_id: str,
    *,
    reason: str,
    alias: str = LIVE_ALIAS,
    applies: Callable[[PromptAlias], bool] = lambda _alias: True,
) -> PromptAlias | None:
    """End the alias's canary because `reason` (an alarm) says the canary version is unhealthy: the alias
    keeps its stable version and its history records `auto-rollback` with the reason. Nothing happens
    without a canary, for a canary started with auto-rollback off, for one the alarm is not about
    (`applies` is false for the alias as read), or when someone moved the alias since it was read (the
    newer move wins: never overwritten). Returns the alias when it moved."""
    current = store.get_alias(prompt_id, alias)
    if current is None or current.canary_version is None or not current.auto_rollback or not applies(current):
        return None
    try:
        return _end_canary(store, current, author=AUTO_ROLLBACK, action=AUTO_ROLLBACK, note=reason)
    except AliasConflict:
        return None


def start_canary(
    store: PromptStore,
    prompt_id: str,
    *,
    version: int,
    weight: int,
    alias: str,
    author: str,
    proof: Proof,
    auto_rollback: bool = True,
) -> PromptAlias:
    """Send `weight` % of the alias's unpinned requests to `version`; the rest stay where they are."""
    if not 0 < weight < 100:
        raise BadRequest("a canary weight is a percentage between 1 and 99")
    _require_version(store, prompt_id, version)
    current = store.get_alias(prompt_id, alias)
    if current is None:
        raise PromptNotFound(f"prompt `{prompt_id}` has no alias `{alias}`: publish or promote first")
    if version == current.version:
        raise BadRequest(f"alias `{alias}` already serves v{version}; a canary must be another version")
    return store.move_alias(
        prompt_id,
        alias,
        version=current.version,
        current=current,
        author=author,
        action="canary",
        canary_version=version,
        canary_weight=weight,
        auto_rollback=auto_rollback,
        evidence=proof.history_entry(),
    )
