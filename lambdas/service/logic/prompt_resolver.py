"""Which prompt version serves a request: alias (with its canary) or pinned version -> immutable version.

Alias pointers are cached for `ttl_s` (how soon a promotion reaches a warm function); versions are
immutable and cached for good. When the registry fails and an expired pointer is cached, it is
served, kept for another TTL (the registry is asked again after it, not on every request) and a
warning logged; a canary's version this environment never loaded is replaced by the alias's own cached
one; without any copy the request gets a 503.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.dal.prompt_store import PromptAlias, PromptStore, PromptVersion
from service.models.errors import PromptNotFound, RegistryUnavailable
from service.observability import logger


def canary_bucket(prompt_id: str, request_id: str) -> int:
    """0-99, the same for the same request id (a retried request gets the same version)."""
    digest = hashlib.sha256(f"{prompt_id}:{request_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


@dataclass
class _Pointer:
    alias: PromptAlias
    expires_at: float


class PromptResolver:
    """Resolves (prompt_id, alias | version) through caches in front of the store."""

    def __init__(self, store: PromptStore, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._pointers: dict[tuple[str, str], _Pointer] = {}
        self._versions: dict[tuple[str, int], PromptVersion] = {}

    def resolve(self, prompt_id: str, *, alias: str, version: int | None = None, request_id: str = "") -> PromptVersion:
        if version is None:
            pointer = self._pointer(prompt_id, alias)
            version = pointer.version
            if pointer.canary_version is not None and canary_bucket(prompt_id, request_id) < pointer.canary_weight:
                return self._canary_version(prompt_id, pointer)
        return self._version(prompt_id, version)

    def _canary_version(self, prompt_id: str, pointer: PromptAlias) -> PromptVersion:
        """The canary's version; during an outage, before this environment ever loaded it, the alias's own
        version when that one is cached (a stale copy exists: no 503 for the canary's share)."""
        try:
            return self._version(prompt_id, pointer.canary_version)
        except RegistryUnavailable as exc:
            if (prompt_id, pointer.version) not in self._versions:
                raise
            logger.warning(
                "prompt registry unavailable; serving the alias's version instead of its canary",
                extra={
                    "prompt_id": prompt_id,
                    "prompt_version": pointer.version,
                    "canary_version": pointer.canary_version,
                    "error": exc.message,
                },
            )
            return self._versions[(prompt_id, pointer.version)]

    @property
    def store(self) -> PromptStore:
        return self._store

    def canary_of(self, prompt_id: str, alias: str) -> int | None:
        """The alias's canary version, from the pointer `resolve` just used (no registry call)."""
        cached = self._pointers.get((prompt_id, alias))
        return cached.alias.canary_version if cached else None

    def _pointer(self, prompt_id: str, alias: str) -> PromptAlias:
        key = (prompt_id, alias)
        cached = self._pointers.get(key)
        now = self._clock()
        if cached and cached.expires_at > now:
            return cached.alias
        try:
            found = self._store.get_alias(prompt_id, alias)
        except RegistryUnavailable as exc:
            if cached is None:
                raise
            # served again, unasked, for another TTL: during an outage each environment waits out the
            # registry's timeouts once per TTL, not on every request
            cached.expires_at = now + self._ttl_s
            logger.warning(
                "prompt registry unavailable; serving cached alias",
                extra={
                    "prompt_id": prompt_id,
                    "alias": alias,
                    "prompt_version": cached.alias.version,
                    "error": exc.message,
                },
            )
            return cached.alias
        if found is None:
            raise PromptNotFound(f"prompt `{prompt_id}` not found (it has no alias `{alias}`)")
        self._pointers[key] = _Pointer(found, now + self._ttl_s)
        return found

    def _version(self, prompt_id: str, version: int) -> PromptVersion:
        key = (prompt_id, version)
        if key not in self._versions:
            found = self._store.get_version(prompt_id, version)
            if found is None:
                raise PromptNotFound(f"prompt `{prompt_id}` has no version {version}")
            self._versions[key] = found
        return self._versions[key]
