"""Which prompt version serves a request: alias or pinned version -> immutable version, cached.

The cache holds resolved versions for `ttl_s`. When the registry fails and an expired copy is
cached, the copy is served and a warning logged; without a copy the request gets a 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from service.dal.prompt_store import PromptStore, PromptVersion
from service.models.errors import PromptNotFound, RegistryUnavailable
from service.observability import logger


@dataclass
class _Entry:
    value: PromptVersion
    expires_at: float


class PromptResolver:
    """Resolves (prompt_id, alias | version) through a TTL cache in front of the store."""

    def __init__(self, store: PromptStore, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str], _Entry] = {}

    def resolve(self, prompt_id: str, *, alias: str, version: int | None = None) -> PromptVersion:
        key = (prompt_id, f"v{version}" if version is not None else f"alias:{alias}")
        entry = self._cache.get(key)
        now = self._clock()
        if entry and entry.expires_at > now:
            return entry.value
        try:
            value = self._load(prompt_id, alias=alias, version=version)
        except RegistryUnavailable as exc:
            if entry is None:
                raise
            logger.warning(
                "prompt registry unavailable; serving cached prompt",
                extra={"prompt_id": prompt_id, "prompt_version": entry.value.version, "error": exc.message},
            )
            return entry.value
        # a pinned version never changes, so it can stay cached for good
        ttl = float("inf") if version is not None else self._ttl_s
        self._cache[key] = _Entry(value, now + ttl)
        return value

    def _load(self, prompt_id: str, *, alias: str, version: int | None) -> PromptVersion:
        if version is None:
            pointer = self._store.get_alias(prompt_id, alias)
            if pointer is None:
                raise PromptNotFound(f"prompt `{prompt_id}` not found (it has no alias `{alias}`)")
            version = pointer.version
        found = self._store.get_version(prompt_id, version)
        if found is None:
            raise PromptNotFound(f"prompt `{prompt_id}` has no version {version}")
        return found
