"""A prompt's life through the CLI a user types, observed through the local API."""

import json

import pytest
import requests
from click.testing import CliRunner

from liftoff.cli import main
from liftoff.foundation.usecases import load_use_case
from liftoff.local.runtime import provision
from liftoff.prompts_cli import open_store

pytestmark = pytest.mark.e2e


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, ["prompts", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def served_version(post, request_id: str, **extra) -> int:
    status, body = post(
        {"prompt_id": "triage", "variables": {"message": "refund please"}, **extra}, request_id=request_id
    )
    assert status == 200, body
    return body["prompt_version"]


def test_publish_canary_promote_rollback_pin(local, post, monkeypatch):
    monkeypatch.setenv("LIFTOFF_AUTHOR", "e2e")
    store = open_store("fixture-triage", None)
    # Given the repo's file is already v1 (publishing it again is a no-op)
    assert "unchanged, still v1" in cli("publish", "triage")
    # Given v2 of the triage prompt is published (live stays on v1)
    v1 = store.get_version("triage", 1).spec
    v2 = v1.model_copy(update={"system": v1.system + "Be concise.\n"})
    assert store.publish(v2, author="e2e", message="concise").version == 2
    assert served_version(post, "a") == 1
    # and evaluated (pinned to v2: live keeps serving v1), which records its passing result
    evaluated = CliRunner().invoke(
        main, ["eval", "run", "--version", "2", "--tag", "punctuation", "--tag", "markup", "--gate"]
    )
    assert evaluated.exit_code == 0 and "PASS triage v2" in evaluated.output, evaluated.output
    assert served_version(post, "b") == 1

    # When a 50 % canary runs / Then both versions are served, the same id always gets the same one
    assert "canary v2 at 50%" in cli("canary", "triage", "--version", "2", "--weight", "50")
    served = {served_version(post, f"req-{i}") for i in range(40)}
    assert served == {1, 2}
    assert len({served_version(post, "req-7") for _ in range(5)}) == 1

    # When v2 is promoted / Then every request gets v2; a pin still wins
    cli("promote", "triage", "--version", "2")
    assert {served_version(post, f"req-{i}") for i in range(10)} == {2}
    assert served_version(post, "pinned", version=1) == 1

    # When rolled back / Then live serves v1 again, and the history shows every move
    assert "live -> v1" in cli("rollback", "triage")
    assert {served_version(post, f"req-{i}") for i in range(10)} == {1}
    moves = json.loads(cli("history", "triage", "--json"))["alias_moves"]
    assert [m["action"] for m in moves] == ["publish", "canary", "promote", "rollback"]
    assert moves[1]["evidence"]["passed"] and moves[2]["evidence"]["passed"]  # the canary's and promote's eval
    assert "+  Be concise." in cli("diff", "triage", "1", "2")
    listing = json.loads(cli("list", "--json"))
    assert listing == [{"prompt_id": "triage", "latest": 2, "live": 1, "canary": None}]

    # When a canary is aborted / Then every request goes back to the stable version at once
    cli("canary", "triage", "--version", "2", "--weight", "50")
    assert "canary aborted, live -> v1" in cli("canary", "triage", "--abort")
    assert {served_version(post, f"req-{i}") for i in range(10)} == {1}


def test_cli_errors_are_clear(local):
    result = CliRunner().invoke(main, ["prompts", "promote", "triage", "--version", "99"])
    assert result.exit_code == 1
    assert "has no version 99" in result.output
    result = CliRunner().invoke(main, ["prompts", "canary", "triage", "--weight", "10"])
    assert result.exit_code == 1 and "give --version and --weight" in result.output


def test_registry_outage_with_warm_cache_still_serves(local, post, counter):
    # Given a warm function (live alias and v1 cached)
    assert served_version(post, "warm") == 1
    # When DynamoDB loses everything (moto's reset: every call now fails with ResourceNotFound)
    assert requests.post(f"{local.dynamodb_url}/moto-api/reset", timeout=5).ok
    try:
        # Then the cached prompt keeps serving (the alias cache expired: TTL is 0 in these tests)
        status, during = post({"prompt_id": "triage", "variables": {"message": "refund please"}}, request_id="outage")
        assert (status, during["prompt_version"]) == (200, 1), during
        # and a prompt that was never cached gets a clear 503, not a 5xx stack trace
        status, body = post({"prompt_id": "other", "variables": {}})
        assert (status, body["error"]["code"]) == (503, "PromptRegistryUnavailable")
    finally:
        # restore the tables the way `local up` made them, for any test that runs later
        provision(
            load_use_case("fixture-triage"),
            table=local.table_name,
            spend_table=local.spend_table_name,
            dynamodb_url=local.dynamodb_url,
            idempotency_table=local.idempotency_table_name,
        )
    # And what the request served during the outage spent is not lost: its ADD was refused (the table was
    # gone), so the environment carries it into its next ADD. (Left carried, it landed in whatever test
    # came next on this local mode: test_spend_control's counter then ran one request ahead.)
    status, after = post({"prompt_id": "triage", "variables": {"message": "refund please"}}, request_id="after")
    assert status == 200, after
    today = counter.day(counter.today())  # the restored table started the day at zero
    assert today.spend_usd == pytest.approx(during["cost_usd"] + after["cost_usd"], rel=1e-9)
    assert today.requests == 2
