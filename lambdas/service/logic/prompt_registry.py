"""Registry operations people run (via `liftoff prompts ...`): promote, rollback, canary.
Each one reads the alias, checks the target version exists, then moves the alias with an
optimistic lock, so two concurrent moves never silently overwrite each other."""

from __future__ import annotations

from service.dal.prompt_store import LIVE_ALIAS, AliasConflict, PromptAlias, PromptStore
from service.models.errors import BadRequest, PromptNotFound


def _require_version(store: PromptStore, prompt_id: str, version: int) -> None:
    if store.get_version(prompt_id, version) is None:
        latest = store.latest_version(prompt_id)
        hint = f"latest is v{latest.version}" if latest else "it has no versions: publish it first"
        raise PromptNotFound(f"prompt `{prompt_id}` has no version {version} ({hint})")


def promote(store: PromptStore, prompt_id: str, *, version: int, alias: str, author: str) -> PromptAlias:
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
    )


def rollback(store: PromptStore, prompt_id: str, *, alias: str, author: str) -> PromptAlias:
    """Undo the alias's last move: during a canary, end the canary (the alias keeps its stable version);
    otherwise point it back at the version it served before."""
    current = store.get_alias(prompt_id, alias)
    if current is None:
        raise PromptNotFound(f"prompt `{prompt_id}` has no alias `{alias}`")
    if current.canary_version is not None:
        return _end_canary(store, current, author=author, action="rollback")
    earlier = [h["version"] for h in current.history[:-1] if h["version"] != current.version]
    if not earlier:
        raise BadRequest(f"alias `{alias}` of `{prompt_id}` has never pointed anywhere else: nothing to roll back to")
    return store.move_alias(
        prompt_id,
        alias,
        version=earlier[-1],
        current=current,
        author=author,
        action="rollback",
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


def auto_rollback(store: PromptStore, prompt_id: str, *, reason: str, alias: str = LIVE_ALIAS) -> PromptAlias | None:
    """End the alias's canary because `reason` (an alarm) says the canary version is unhealthy: the alias
    keeps its stable version and its history records `auto-rollback` with the reason. Nothing happens
    without a canary, for a canary started with auto-rollback off, or when someone moved the alias
    since it was read (the newer move wins: never overwritten). Returns the alias when it moved."""
    current = store.get_alias(prompt_id, alias)
    if current is None or current.canary_version is None or not current.auto_rollback:
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
    )
