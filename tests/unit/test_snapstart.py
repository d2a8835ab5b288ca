"""SnapStart runtime hooks (service/snapstart.py): after a restore, nothing the snapshot holds that must
be fresh or unique to an environment is reused. The runtime's hook library is faked: it registers."""

import random
import types

import boto3

from service import snapstart
from service.dal import feedback_key as feedback_key_module
from service.handlers import invoke


class FakeHooks(types.ModuleType):
    """snapshot_restore_py's registration functions, recording what is registered."""

    def __init__(self):
        super().__init__("snapshot_restore_py")
        self.after_restore: list = []
        self.before_snapshot: list = []

    def register_after_restore(self, func, *args, **kwargs):
        self.after_restore.append(func)

    def register_before_snapshot(self, func, *args, **kwargs):
        self.before_snapshot.append(func)


def test_the_hook_is_registered_once_when_the_runtime_offers_it():
    # Given the runtime's hook library
    hooks = FakeHooks()
    # When the handler's init asks twice (two handler modules, or a re-import)
    assert snapstart.refresh_after_restore(hooks=hooks)
    assert snapstart.refresh_after_restore(hooks=hooks)
    # Then one after-restore hook, and nothing to do before the snapshot (init builds no clients)
    assert hooks.after_restore == [snapstart.after_restore]
    assert hooks.before_snapshot == []


def test_without_the_runtime_library_nothing_is_registered():
    # local mode and the tests have no snapshot_restore_py: the handler imports all the same
    assert snapstart.refresh_after_restore() is False


def test_after_restore_drops_clients_credentials_and_the_feedback_key(monkeypatch):
    # Given an environment that built its clients, its boto3 session and read its feedback key before
    # the snapshot
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    invoke.get_deps.cache_clear()
    built = []
    monkeypatch.setattr(invoke, "get_deps", invoke.lru_cache(maxsize=1)(lambda: built.append(1) or object()))
    snapstart.refresh_after_restore(invoke.get_deps.cache_clear)
    before = invoke.get_deps()
    boto3.setup_default_session()
    monkeypatch.setattr(
        feedback_key_module.boto3,
        "client",
        lambda *a, **k: types.SimpleNamespace(get_secret_value=lambda **_: {"SecretString": "key-v1"}),
    )
    feedback_key_module.feedback_key("secret")
    assert feedback_key_module.feedback_key.cache_info().currsize == 1
    # When Lambda restores an environment from the snapshot
    snapstart.after_restore()
    # Then the next request builds its own clients, with a new session (today's credentials, new
    # connections), and reads the key again
    assert boto3.DEFAULT_SESSION is None
    assert invoke.get_deps() is not before and len(built) == 2
    assert feedback_key_module.feedback_key.cache_info().currsize == 0


def test_the_invoke_handler_has_its_clients_rebuilt_after_a_restore():
    # The real handler module registered its client caches at import
    for cache in (invoke.get_deps, invoke.get_idempotent_invoke, invoke.get_capture_store):
        assert cache.cache_clear in snapstart._resets


def test_each_restored_environment_draws_its_own_random_numbers():
    # Given the random state a snapshot holds, restored twice
    random.seed(1234)
    snapshot = random.getstate()
    draws = []
    for _ in range(2):
        random.setstate(snapshot)
        snapstart.after_restore()
        draws.append([random.random() for _ in range(3)])
    # Then the two environments sample captures differently (without the reseed they would be equal)
    assert draws[0] != draws[1]
