"""Promotion needs evidence: promote and canary accept a version only with a passing eval record of that
exact version and content hash (a deployed registry: from a real model), or --force with a reason kept
in the history. Rollback steps back along what the alias served (v3, v2, v1), or --to N."""

import json

import pytest
from click.testing import CliRunner

from liftoff import prompts_cli
from service.dal.prompt_store import LIVE_ALIAS
from service.logic.prompt_registry import (
    EvidenceMissing,
    Proof,
    promote,
    prove,
    rollback,
    served_versions,
    start_canary,
)
from service.models.evidence import EvalEvidence

from .test_prompts import spec

# values that meet fixture-triage's exit criteria (usecases/fixture-triage.yaml)
MET = {
    name: {"value": value, "limit": value, "met": True}
    for name, value in [
        ("accuracy", 0.95),
        ("p95 latency", 100.0),
        ("cost per request", 0.0001),
        ("error rate", 0.0),
        ("invalid output rate", 0.0),
    ]
}


@pytest.fixture
def three(store):
    for template in ("A {{word}}", "B {{word}}", "C {{word}}"):
        store.publish(spec(template), author="dev")
    return store


def record(
    store, version: int, *, passed=True, target="local", simulated=True, created="2026-01-01T00:00:00.000", **kw
):
    found = store.get_version("echo", version)
    evidence = EvalEvidence(
        use_case=store.use_case,
        prompt_id="echo",
        version=version,
        content_hash=kw.pop("content_hash", found.content_hash),
        model_id="m",
        guardrail_id=None,
        guardrail_version=None,
        guardrail_applied=False,
        target=target,
        simulated=simulated,
        git_commit=None,
        eval_set_hash="e",
        passed=passed,
        criteria=kw.pop("criteria", MET),
        report=kw.pop("report", f"reports/echo-v{version}/report.json"),
        created=created,
        **kw,
    )
    store.record_evidence(evidence)
    return evidence


def test_a_version_without_a_record_is_refused_with_the_command_to_run(three):
    with pytest.raises(EvidenceMissing, match=r"has no eval record in the local registry") as caught:
        prove(three, "echo", 2, stage=None)
    assert "`liftoff eval run --use-case fixture-triage --version 2`" in caught.value.message
    assert "--force --reason" in caught.value.message


def test_local_mode_accepts_the_simulators_record_a_deployed_registry_does_not(three):
    simulated = record(three, 2)
    assert prove(three, "echo", 2, stage=None).evidence == simulated
    with pytest.raises(
        EvidenceMissing, match="no eval record of the whole eval set on a real model in the sandbox registry"
    ) as caught:
        prove(three, "echo", 2, stage="sandbox")
    assert "--version 2 --target api --stage sandbox" in caught.value.message
    real = record(three, 2, target="api", simulated=False, created="2026-01-01T00:00:01.000")
    assert prove(three, "echo", 2, stage="sandbox").evidence == real


def test_a_record_of_other_content_or_a_newer_failure_does_not_count(three):
    # a record for v2's number but another content (another registry's v2, say)
    record(three, 2, content_hash="0" * 64)
    with pytest.raises(EvidenceMissing):
        prove(three, "echo", 2, stage=None)
    # an older pass is overruled by a newer failure of the same content
    record(three, 2, created="2026-01-01T00:00:01.000")
    record(three, 2, passed=False, created="2026-01-01T00:00:02.000", report="reports/failed/report.json")
    with pytest.raises(
        EvidenceMissing, match=r"newest eval .* failed its exit criteria \(reports/failed/report.json\)"
    ):
        prove(three, "echo", 2, stage=None)


def test_the_evidence_or_the_forced_reason_goes_into_the_history(three):
    evidence = record(three, 2)
    promote(three, "echo", version=2, alias=LIVE_ALIAS, author="ann", proof=prove(three, "echo", 2, stage=None))
    forced = prove(three, "echo", 3, stage=None, force_reason="hotfix: the regex broke prod")
    start_canary(three, "echo", version=3, weight=10, alias=LIVE_ALIAS, author="bob", proof=forced)
    history = three.get_alias("echo", LIVE_ALIAS).history
    assert history[1]["evidence"] == {
        "report": evidence.report,
        "passed": True,
        "target": "local",
        "simulated": True,
        "created": evidence.created,
        "content_hash": evidence.content_hash,
    }
    assert history[2]["evidence"] == {"forced": True, "reason": "hotfix: the regex broke prod"}


def test_each_rollback_steps_one_version_further_back(three):
    # Given live promoted to v2, then to v3
    proof = Proof(None, "test")
    promote(three, "echo", version=2, alias=LIVE_ALIAS, author="a", proof=proof)
    promote(three, "echo", version=3, alias=LIVE_ALIAS, author="a", proof=proof)
    # When rolled back twice / Then v2, then v1; a third has nowhere to go
    assert rollback(three, "echo", alias=LIVE_ALIAS, author="b").version == 2
    assert rollback(three, "echo", alias=LIVE_ALIAS, author="b").version == 1
    with pytest.raises(Exception, match="nothing to roll back to"):
        rollback(three, "echo", alias=LIVE_ALIAS, author="b")
    # and --to picks a version
    assert rollback(three, "echo", alias=LIVE_ALIAS, author="b", to=3).version == 3


def test_served_versions_skip_canary_moves_and_pop_rollbacks():
    moves = [
        {"action": "publish", "version": 1},
        {"action": "promote", "version": 2},
        {"action": "canary", "version": 2},
        {"action": "rollback", "version": 2},  # ended the canary
        {"action": "promote", "version": 3},
        {"action": "rollback", "version": 2},
    ]
    assert served_versions(moves) == [1, 2]


@pytest.fixture
def cli(three, monkeypatch):
    """`liftoff prompts ...` against the moto registry (local mode's place)."""
    monkeypatch.setattr(prompts_cli, "open_store", lambda use_case, stage: three)
    monkeypatch.setenv("LIFTOFF_AUTHOR", "ann")

    def run(*args: str):
        return CliRunner().invoke(prompts_cli.prompts, list(args))

    return run


def test_promote_refuses_then_accepts_and_force_needs_a_reason(cli, three):
    refused = cli("promote", "echo", "2")
    assert refused.exit_code == 1 and "liftoff eval run --use-case fixture-triage --version 2" in refused.output
    assert "Traceback" not in refused.output
    assert "needs --reason" in cli("promote", "echo", "2", "--force").output
    record(three, 2)
    accepted = cli("promote", "echo", "2")
    assert accepted.exit_code == 0, accepted.output
    assert "live -> v2" in accepted.output and "eval PASS on local (the Bedrock simulator)" in accepted.output
    forced = cli("promote", "echo", "--version", "3", "--force", "--reason", "customer escalation")
    assert forced.exit_code == 0 and "forced by ann: customer escalation" in forced.output


def test_history_shows_the_canary_and_the_evidence_of_each_move(cli, three):
    record(three, 2)
    assert cli("canary", "echo", "--version", "2", "--weight", "25").exit_code == 0
    text = cli("history", "echo").output
    assert "canary        -> v1  by ann  canary v2 at 25%  eval PASS on local (simulator) reports/echo-v2" in text


def test_pending_lists_what_was_published_since_live_and_canary_pending_proves_each(cli, three):
    # Given live on v1 and v3 the latest (a deploy published it)
    rows = json.loads(cli("pending", "--json").stdout)
    assert [(r["prompt_id"], r["version"], r["live"], r["evidence"]) for r in rows] == [("echo", 3, 1, None)]
    # When the deploy gate starts its canary before the eval passed / Then it refuses, naming the command
    refused = cli("canary", "--pending", "--weight", "10", "--stage", "sandbox")
    assert refused.exit_code == 1 and "--version 3 --target api --stage sandbox" in refused.output
    record(three, 3)
    started = cli("canary", "--pending", "--weight", "10")
    assert started.exit_code == 0, started.output
    assert three.get_alias("echo", LIVE_ALIAS).canary_version == 3
    assert "nothing pending" in cli("pending").output


def test_rollback_to_a_version_the_alias_never_served_is_refused(three):
    # Given live on v1 and v3 published but never evaluated nor served
    # When rolled back "to" v3 / Then it is refused: that is a promote, which needs v3's eval record
    with pytest.raises(Exception, match=r"never served v3.*liftoff prompts promote echo 3") as caught:
        rollback(three, "echo", alias=LIVE_ALIAS, author="b", to=3)
    assert caught.type.__name__ == "BadRequest"
    assert three.get_alias("echo", LIVE_ALIAS).version == 1


def test_a_version_rolled_back_or_whose_canary_ended_is_not_pending_again(cli, three):
    # Given v3's canary ended by its alarm (auto-rollback): live stays on v1
    from service.logic.prompt_registry import auto_rollback

    record(three, 3)
    assert cli("canary", "echo", "--version", "3", "--weight", "10").exit_code == 0
    assert auto_rollback(three, "echo", reason="CanaryErrors ALARM") is not None
    # When the next deploy asks what is pending / Then v3 is not: the deploy gate must not start its canary again
    assert json.loads(cli("pending", "--json").stdout) == []
    assert "nothing pending" in cli("canary", "--pending", "--weight", "10").output
    assert three.get_alias("echo", LIVE_ALIAS).canary_version is None
    # and a version promoted then rolled back is not pending either
    promote(three, "echo", version=3, alias=LIVE_ALIAS, author="a", proof=Proof(None, "test"))
    rollback(three, "echo", alias=LIVE_ALIAS, author="b")
    assert json.loads(cli("pending", "--json").stdout) == []


def test_a_sample_of_the_eval_set_is_no_evidence_on_a_stage(three):
    # Given v2 evaluated on a real model with --limit 1 (one easy case passed)
    record(three, 2, target="api", simulated=False, sample=True)
    # When the stage's gate asks for its proof / Then the sample does not count: the whole eval set must pass
    with pytest.raises(EvidenceMissing, match="no eval record of the whole eval set on a real model in the sandbox"):
        prove(three, "echo", 2, stage="sandbox")
    # local mode accepts it, as it accepts the simulator's (the flow shown end to end)
    assert prove(three, "echo", 2, stage=None).evidence.sample is True
    # and a whole-set run after it counts
    whole = record(three, 2, target="api", simulated=False, created="2026-01-01T00:00:01.000")
    assert prove(three, "echo", 2, stage="sandbox").evidence == whole


def test_import_into_a_stage_needs_the_exported_versions_passing_record(aws, triage):
    """Sandbox -> prod by export/import: the content must have passed where it was exported."""
    import boto3
    import click

    from liftoff.local.runtime import create_prompts_table
    from liftoff.prompts_cli import export_alias, import_export
    from service.dal.prompt_store import PromptStore

    def stage_store(name):
        create_prompts_table(boto3.client("dynamodb"), name)
        return PromptStore(boto3.resource("dynamodb").Table(name), triage.name)

    sandbox, prod = stage_store("sandbox-prompts"), stage_store("prod-prompts")
    v1 = triage.prompts[0]
    for store in (sandbox, prod):
        store.publish(v1, author="dev")
    sandbox.publish(v1.model_copy(update={"system": (v1.system or "") + "\nBe terse."}), author="dev")
    # Given sandbox's live forced onto v2, never evaluated
    promote(sandbox, v1.prompt_id, version=2, alias="live", author="dev", proof=Proof(None, "hotfix"))
    document = export_alias(sandbox, triage.name, deployed=True)
    # When it is imported into prod / Then prod's live does not move, and the refusal says what to run
    with pytest.raises(click.ClickException, match=r"no passing eval record .* where it was exported") as caught:
        import_export(prod, triage.name, document, author="ci", source="sandbox.json", deployed=True)
    assert "liftoff eval run --use-case fixture-triage --version 2 --target api --stage S" in caught.value.message
    assert prod.get_alias(v1.prompt_id, "live").version == 1
    assert prod.latest_version(v1.prompt_id).version == 1  # nothing published either
    # Given a passing real-model record of the whole set in sandbox, exported with the version
    found = sandbox.get_version(v1.prompt_id, 2)
    evidence = EvalEvidence(
        use_case=triage.name, prompt_id=v1.prompt_id, version=2, content_hash=found.content_hash, model_id="m",
        guardrail_id=None, guardrail_version=None, guardrail_applied=True, target="api", simulated=False,
        git_commit=None, eval_set_hash="e", passed=True, criteria={}, report="s3://r/report.json",
        created="2026-01-01T00:00:00.000",
    )  # fmt: skip
    sandbox.record_evidence(evidence)
    document = export_alias(sandbox, triage.name, deployed=True)
    # a local export (simulator records) is refused by a stage, unless forced with a reason
    item = document["prompts"][0]
    local_doc = {**document, "prompts": [{**item, "evidence": {**item["evidence"], "simulated": True}}]}
    with pytest.raises(click.ClickException, match="no passing eval record"):
        import_export(prod, triage.name, local_doc, author="ci", source="local.json", deployed=True)
    forced = import_export(
        prod, triage.name, local_doc, author="ci", source="local.json", deployed=True, force_reason="demo day"
    )
    assert forced[0]["version"] == 2 and prod.get_alias(v1.prompt_id, "live").history[-1]["evidence"]["forced"]
    prod.move_alias(
        v1.prompt_id, "live", current=prod.get_alias(v1.prompt_id, "live"), version=1, author="t", action="rollback"
    )
    # Then the import moves prod's live, and its history keeps the sandbox record
    import_export(prod, triage.name, document, author="ci", source="sandbox.json", deployed=True)
    live = prod.get_alias(v1.prompt_id, "live")
    assert live.version == 2 and live.history[-1]["evidence"]["report"] == "s3://r/report.json"
    assert "imported from sandbox.json" in live.history[-1]["note"]


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"use_case": "fixture-triage"}',
        '{"use_case": "fixture-triage", "alias": "live", "prompts": [{"prompt_id": "echo"}]}',
        '{"use_case": "fixture-triage", "alias": "live", "prompts": [{"prompt_id": "echo", "version": 1, '
        '"content_hash": "x", "spec": {"prompt_id": "echo"}}]}',
    ],
)
def test_importing_a_file_that_is_not_an_export_is_a_plain_error(cli, three, tmp_path, content):
    path = tmp_path / "live.json"
    path.write_text(content)
    result = cli("import", str(path))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    assert "live.json" in result.output and "liftoff prompts export" in result.output
    assert three.get_alias("echo", LIVE_ALIAS).version == 1


def test_a_pass_under_exit_criteria_tightened_since_does_not_promote(cli, three):
    # Given v2 passed at accuracy 0.80 when min_accuracy was 0.75; the use case asks 0.85 now
    record(three, 2, criteria={**MET, "accuracy": {"value": 0.80, "limit": 0.75, "met": True}})
    # When it is promoted / Then it is refused, naming the criterion and the eval to run again
    refused = cli("promote", "echo", "2")
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit)
    assert "does not meet today's exit criteria: accuracy 80.0% (min_accuracy 85.0%)" in " ".join(
        refused.output.split()
    )
    assert "liftoff eval run --use-case fixture-triage --version 2" in refused.output
    assert cli("canary", "echo", "--version", "2", "--weight", "10").exit_code == 1
    assert three.get_alias("echo", LIVE_ALIAS).version == 1
