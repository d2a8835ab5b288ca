"""SnapStart runtime hooks (capacity.snapstart). With SnapStart, Lambda initializes the function once, when
a version is published, and resumes every new execution environment from a snapshot of that memory. What
init built is then shared by every restored environment, and some of it must not be:

- boto3's default session holds the credentials it resolved: the snapshot's, which expire;
- clients hold pooled connections to DynamoDB, Bedrock and Secrets Manager, dead after a restore;
- the feedback key is a secret: read it again rather than keep it in the snapshot (a rotation shows too);
- `random` would draw the same sequence in every restored environment (capture sampling, canary routing).

`after_restore` drops all of these, so each environment builds its own on its first request (the
handlers build them lazily anyway: get_deps & co.). The hooks come from the Snapshot Restore for Python
library, which the Python managed runtimes include (Lambda docs: "Lambda SnapStart runtime hooks for
Python"); elsewhere (local mode, tests) there is nothing to register, and nothing is snapshotted.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from types import ModuleType

import boto3

from service.dal.feedback_key import feedback_key

_resets: list[Callable[[], None]] = [feedback_key.cache_clear]
_registered: set[int] = set()


def after_restore() -> None:
    """Forget what must be unique to an execution environment or fresh after a restore."""
    boto3.DEFAULT_SESSION = None  # the next client makes a new session: today's credentials, new connections
    for reset in _resets:
        reset()
    random.seed()  # from os.urandom: each restored environment its own sequence


def refresh_after_restore(*resets: Callable[[], None], hooks: ModuleType | None = None) -> bool:
    """Have `resets` (the lru_cache clears of a handler's clients and caches) run after every restore, and
    register the runtime hook (once per hooks module); False when there is no SnapStart runtime here."""
    _resets.extend(r for r in resets if r not in _resets)
    if hooks is None:
        try:
            import snapshot_restore_py as hooks  # in the Lambda Python runtime, not in the package
        except ImportError:
            return False
    if id(hooks) not in _registered:
        hooks.register_after_restore(after_restore)
        _registered.add(id(hooks))
    return True
