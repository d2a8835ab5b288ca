import pytest

from service.dal.prompt_store import LIVE_ALIAS, AliasConflict, PromptStore
from service.logic.prompt_registry import Proof, abort_canary, promote, rollback, start_canary
from service.logic.prompt_resolver import PromptResolver, canary_bucket
from service.models.errors import BadRequest, PromptNotFound

from .test_prompts import spec

PROOF = Proof(None, "unit test of the alias moves")  # the evidence gate has tests of its own (test_promotion_gate)


@pytest.fixture
def three_versions(store):
    for template in ("A {{word}}", "B {{word}}", "C {{word}}"):
        store.publish(spec(template), author="dev")
    return store


def test_promote_then_rollback_restores_the_previous_version(three_versions):
    store = three_versions
    assert store.get_alias("echo", LIVE_ALIAS).version == 1
    assert promote(store, "echo", version=3, alias=LIVE_ALIAS, author="ann", proof=PROOF).version == 3
    assert rollback(store, "echo", alias=LIVE_ALIAS, author="bob").version == 1
    history = store.get_alias("echo", LIVE_ALIAS).history
    assert [(h["action"], h["version"], h["by"]) for h in history] == [
        ("publish", 1, "dev"),
        ("promote", 3, "ann"),
        ("rollback", 1, "bob"),
    ]


def test_promote_to_a_missing_version_is_refused(three_versions):
    with pytest.raises(PromptNotFound, match="no version 9 \\(latest is v3\\)"):
        promote(three_versions, "echo", version=9, alias=LIVE_ALIAS, author="a", proof=PROOF)


def test_rollback_with_no_earlier_version_is_refused(three_versions):
    with pytest.raises(BadRequest, match="nothing to roll back to"):
        rollback(three_versions, "echo", alias=LIVE_ALIAS, author="a")


def test_concurrent_promotes_second_gets_a_conflict(three_versions):
    store = three_versions
    # Given two people who both read the alias at the same revision
    seen = store.get_alias("echo", LIVE_ALIAS)
    store.move_alias("echo", LIVE_ALIAS, current=seen, version=2, author="ann", action="promote")
    # When the second writes with the revision it read / Then it is told, and ann's move stands
    with pytest.raises(AliasConflict, match="moved by someone else"):
        store.move_alias("echo", LIVE_ALIAS, current=seen, version=3, author="bob", action="promote")
    assert store.get_alias("echo", LIVE_ALIAS).version == 2


def test_canary_splits_traffic_deterministically_and_promote_ends_it(three_versions):
    store = three_versions
    alias = start_canary(store, "echo", version=2, weight=30, alias=LIVE_ALIAS, author="ann", proof=PROOF)
    assert (alias.version, alias.canary_version, alias.canary_weight) == (1, 2, 30)
    resolver = PromptResolver(store, ttl_s=0)
    served = [resolver.resolve("echo", alias=LIVE_ALIAS, request_id=f"r{i}").version for i in range(1000)]
    share = served.count(2) / len(served)
    assert 0.25 < share < 0.35
    assert {resolver.resolve("echo", alias=LIVE_ALIAS, request_id="r7").version for _ in range(5)} == {served[7]}
    assert resolver.resolve("echo", alias=LIVE_ALIAS, version=3, request_id="r1").version == 3  # a pin wins
    promoted = promote(store, "echo", version=2, alias=LIVE_ALIAS, author="ann", proof=PROOF)
    assert (promoted.version, promoted.canary_version) == (2, None)


@pytest.mark.parametrize(("version", "weight", "words"), [(2, 0, "between 1 and 99"), (1, 10, "already serves v1")])
def test_canary_arguments_are_checked(three_versions, version, weight, words):
    with pytest.raises(BadRequest, match=words):
        start_canary(three_versions, "echo", version=version, weight=weight, alias=LIVE_ALIAS, author="a", proof=PROOF)


def test_canary_bucket_is_stable():
    assert canary_bucket("p", "abc") == canary_bucket("p", "abc")
    assert 0 <= canary_bucket("p", "abc") < 100


def test_export_from_one_stage_and_import_into_another(aws, triage):
    """Sandbox -> prod: the versions `live` serves travel by content; numbers may differ."""
    import boto3
    import click

    from liftoff.local.runtime import create_prompts_table
    from liftoff.prompts_cli import export_alias, import_export

    def stage_store(name):
        create_prompts_table(boto3.client("dynamodb"), name)
        return PromptStore(boto3.resource("dynamodb").Table(name), triage.name)

    sandbox, prod = stage_store("sandbox-prompts"), stage_store("prod-prompts")
    v1 = triage.prompts[0]
    for store in (sandbox, prod):
        store.publish(v1, author="dev")
    v2 = v1.model_copy(update={"system": (v1.system or "") + "\nBe terse."})
    sandbox.publish(v2, author="dev")
    promote(sandbox, v1.prompt_id, version=2, alias="live", author="dev", proof=PROOF)

    document = export_alias(sandbox, triage.name, deployed=True)
    assert [(p["prompt_id"], p["version"]) for p in document["prompts"]] == [(v1.prompt_id, 2)]
    results = import_export(
        prod, triage.name, document, author="ci", source="sandbox.json", deployed=True, force_reason="t"
    )
    assert results == [{"prompt_id": v1.prompt_id, "version": 2, "created": True}]
    live = prod.get_alias(v1.prompt_id, "live")
    assert prod.get_version(v1.prompt_id, live.version).spec.content_hash() == v2.content_hash()
    # importing again is a no-op
    assert (
        import_export(prod, triage.name, document, author="ci", source="sandbox.json", deployed=True, force_reason="t")[
            0
        ]["created"]
        is False
    )
    # a tampered file and another use case's file are refused
    document["prompts"][0]["spec"]["system"] = "changed"
    with pytest.raises(click.ClickException, match="changed after export"):
        import_export(prod, triage.name, document, author="ci", source="x.json", deployed=True)
    with pytest.raises(click.ClickException, match="not `fixture-triage`"):
        import_export(prod, triage.name, {**document, "use_case": "other"}, author="ci", source="x.json", deployed=True)


def test_rollback_during_a_canary_ends_it_and_keeps_the_stable_version(three_versions):
    # Given live v2 with a canary on v3 (publish 1, promote 2, canary 3)
    store = three_versions
    promote(store, "echo", version=2, alias=LIVE_ALIAS, author="ann", proof=PROOF)
    start_canary(store, "echo", version=3, weight=50, alias=LIVE_ALIAS, author="ann", proof=PROOF)
    # When the operator rolls back / Then the canary ends and live stays on v2 (not two versions back, v1)
    moved = rollback(store, "echo", alias=LIVE_ALIAS, author="bob")
    assert (moved.version, moved.canary_version, moved.canary_weight) == (2, None, 0)
    # and a second rollback undoes the promote
    assert rollback(store, "echo", alias=LIVE_ALIAS, author="bob").version == 1


def test_abort_canary_is_explicit_and_locked(three_versions):
    store = three_versions
    promote(store, "echo", version=2, alias=LIVE_ALIAS, author="ann", proof=PROOF)
    with pytest.raises(BadRequest, match="no canary to abort"):
        abort_canary(store, "echo", alias=LIVE_ALIAS, author="bob")
    start_canary(store, "echo", version=3, weight=10, alias=LIVE_ALIAS, author="ann", proof=PROOF)
    moved = abort_canary(store, "echo", alias=LIVE_ALIAS, author="bob")
    assert (moved.version, moved.canary_version) == (2, None)
    assert moved.history[-1]["action"] == "canary-abort"


def test_a_prompt_whose_file_left_the_repo_is_retired_on_the_next_sync(store, triage):
    # Given two prompts published by a deploy, one of them then deleted from the repo
    from service.handlers.prompt_sync import sync_prompts
    from service.logic.prompt_resolver import PromptResolver

    kept = triage.prompts[0].model_dump(mode="json")
    gone = {**kept, "prompt_id": "old-triage"}
    sync_prompts(store, [kept, gone], message="deploy 1")
    assert store.get_alias("old-triage", LIVE_ALIAS) is not None
    # When the next deploy syncs the repo's prompts
    results = sync_prompts(store, [kept], message="deploy 2")
    # Then the removed one has no alias left, so requests by alias get 404; its versions stay as history
    assert {"prompt_id": "old-triage", "retired": [LIVE_ALIAS]} in results
    assert store.get_alias("old-triage", LIVE_ALIAS) is None
    with pytest.raises(PromptNotFound):
        PromptResolver(store, ttl_s=0).resolve("old-triage", alias=LIVE_ALIAS, version=None, request_id="r")
    assert store.get_version("old-triage", 1) is not None
    assert store.get_alias(kept["prompt_id"], LIVE_ALIAS) is not None
