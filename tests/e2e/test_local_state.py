"""Local mode's state: a running local mode is the user's (their published versions live in it), so
`liftoff load` uses it as it is and never restarts or stops it; `local up --persist` keeps the prompt
registry across a stop and a start."""

import pytest

from liftoff.foundation.usecases import load_use_case
from liftoff.load import local_for_load
from liftoff.local import runtime
from service.dal.prompt_store import LIVE_ALIAS, PromptStore

pytestmark = pytest.mark.e2e

USE_CASE = "fixture-summary"  # not the session fixture's use case: these tests start and stop their own


@pytest.fixture
def registry_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFTOFF_LOCAL_REGISTRY_DIR", str(tmp_path / "registry"))  # never the user's saved one
    runtime.down(USE_CASE)
    yield tmp_path / "registry"
    runtime.down(USE_CASE)


def _store(state: runtime.LocalState) -> PromptStore:
    return PromptStore(runtime.local_table(state, state.table_name), USE_CASE)


def _publish_v2(store: PromptStore) -> int:
    spec = load_use_case(USE_CASE).prompts[0]
    changed = spec.model_copy(update={"description": spec.description + " (edited)"})
    result = store.publish(changed, author="test", message="v2")
    assert result.created
    return result.version


def test_load_uses_a_running_local_mode_as_it_is_and_leaves_it_running(registry_dir):
    # Given local mode the user started, with a version they published
    state = runtime.up(USE_CASE)
    version = _publish_v2(_store(state))
    said = []

    # When `liftoff load` asks for local mode at another simulated latency
    with local_for_load(USE_CASE, 300.0, keep=False, say=said.append) as used:
        assert used.pid == state.pid  # the same process: not restarted

    # Then it says why the latency is not the one asked for, and the user's local mode still runs with v2
    assert "using the running local mode of fixture-summary as it is" in said[0]
    assert "not --sim-latency-ms 300" in said[0]
    after = runtime.read_state(USE_CASE)
    assert runtime.is_running(after) and after.pid == state.pid
    assert _store(after).get_version(load_use_case(USE_CASE).prompts[0].prompt_id, version) is not None


def test_persist_keeps_the_registry_across_a_stop_and_a_start(registry_dir):
    prompt_id = load_use_case(USE_CASE).prompts[0].prompt_id
    # Given a persisted local mode where v2 was published and promoted
    state = runtime.up(USE_CASE, persist=True)
    assert state.persist
    store = _store(state)
    version = _publish_v2(store)
    store.move_alias(
        prompt_id,
        LIVE_ALIAS,
        current=store.get_alias(prompt_id, LIVE_ALIAS),
        version=version,
        author="test",
        action="promote",
    )

    # When it is stopped and started again with --persist
    runtime.down(USE_CASE)
    assert (registry_dir / f"{USE_CASE}.json").is_file()
    again = runtime.up(USE_CASE, persist=True)

    # Then v2 and the live alias on it are back; the start publishes the repo's file over the restored registry as a
    # deploy would (it differs from the latest, v2, so it is v3), and live stays where the user put it
    store = _store(again)
    assert store.get_version(prompt_id, version) is not None
    assert store.get_alias(prompt_id, LIVE_ALIAS).version == version
    latest = store.latest_version(prompt_id)
    assert latest.version == version + 1
    assert latest.spec.content_hash() == load_use_case(USE_CASE).prompts[0].content_hash()

    # and without --persist a local mode starts from the repo's prompts alone (state in memory, lost on stop)
    runtime.down(USE_CASE)
    fresh = runtime.up(USE_CASE)
    assert _store(fresh).get_version(prompt_id, version) is None
