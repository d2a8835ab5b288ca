"""The golden canary scores the golden cases through the real invoke path (moto + the simulator), on the
stable version and on a prompt canary's version apart; the auto-rollback ends a canary, records the
alarm, and never overwrites a newer human move."""

import pytest

from liftoff.canary import canary_payload
from liftoff.errors import ConfigError
from liftoff.evals.cases import golden_cases
from service.dal.prompt_store import LIVE_ALIAS, PromptStore
from service.handlers import canary as canary_module
from service.handlers import canary_rollback
from service.logic import prompt_registry
from service.models.prompt import PromptSpec

ALARM_EVENT = {
    "detail-type": "CloudWatch Alarm State Change",
    "detail": {"alarmName": "liftoff-support-triage-local-CanaryVersionAccuracy", "state": {"value": "ALARM"}},
}

# a bad version is canaried on purpose: forced past the eval gate, as a person would with a reason
FORCED = prompt_registry.Proof(None, "a bad version on purpose (test)")


def _bad_version(store: PromptStore, triage) -> int:
    """A triage version the simulator answers wrongly: the message is replaced by a fixed login complaint."""
    spec = next(p for p in triage.prompts if p.prompt_id == "triage")
    data = spec.model_dump(mode="json", by_alias=True)
    data["template"] = "Customer message:\n<message>\nI cannot log in, password reset fails\n</message>\n{{message}}\n"
    return store.publish(PromptSpec.model_validate(data), author="test", message="a bad version").version


def test_the_golden_set_defaults_to_clean_and_edge_cases_and_refuses_unknown_ids(tmp_path):
    cases = golden_cases("support-triage")
    assert 0 < len(cases) <= 20 and all({"clean", "edge"} & set(c.tags) for c in cases)
    import shutil

    from liftoff import REPO_ROOT

    for folder in ("usecases", "prompts", "evals", "pricing"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    (tmp_path / "cdk.json").write_text("{}")
    suite = tmp_path / "evals" / "support-triage" / "suite.yaml"
    suite.write_text(suite.read_text() + "\ngolden:\n  cases: [billing-001, no-such-case]\n")
    with pytest.raises(ConfigError, match="golden.cases.*no-such-case"):
        golden_cases("support-triage", root=tmp_path)


def test_the_canary_scores_the_stable_version_and_a_bad_canary_apart(call, store, triage):
    payload = canary_payload("support-triage")
    stable = canary_module.lambda_handler(payload, None)
    assert stable["stable"]["cases"] == len(payload["golden_canary"]["cases"])
    assert "canary" not in stable  # no prompt canary running
    bad = _bad_version(store, triage)
    prompt_registry.start_canary(store, "triage", version=bad, weight=50, alias=LIVE_ALIAS, author="test", proof=FORCED)
    both = canary_module.lambda_handler(payload, None)
    assert both["canary_versions"] == {"triage": bad}
    assert both["canary"]["accuracy"] < triage.config.exit_criteria.min_accuracy
    assert both["canary"]["accuracy"] < both["stable"]["accuracy"]
    assert both["stable"]["cost_usd"] > 0  # billed and counted like any request


def test_an_alarm_ends_the_canary_and_history_names_it(call, store, triage):
    bad = _bad_version(store, triage)
    prompt_registry.start_canary(store, "triage", version=bad, weight=50, alias=LIVE_ALIAS, author="test", proof=FORCED)
    result = canary_rollback.lambda_handler(ALARM_EVENT, None)
    assert result["rolled_back"] == [{"prompt_id": "triage", "stable_version": 1}]
    alias = store.get_alias("triage", LIVE_ALIAS)
    assert (alias.version, alias.canary_version) == (1, None)
    last = alias.history[-1]
    assert (last["action"], last["by"]) == ("auto-rollback", "auto-rollback")
    assert last["note"] == "alarm liftoff-support-triage-local-CanaryVersionAccuracy"
    # an OK (or any non-ALARM) state change does nothing
    assert canary_rollback.lambda_handler({**ALARM_EVENT, "detail": {"state": {"value": "OK"}}}, None) == {
        "rolled_back": []
    }


def test_a_canary_started_without_auto_rollback_is_left_alone(call, store, triage):
    bad = _bad_version(store, triage)
    prompt_registry.start_canary(
        store, "triage", version=bad, weight=50, alias=LIVE_ALIAS, author="test", proof=FORCED, auto_rollback=False
    )
    assert canary_rollback.lambda_handler(ALARM_EVENT, None) == {"rolled_back": []}
    assert store.get_alias("triage", LIVE_ALIAS).canary_version == bad


def test_a_human_move_racing_the_rollback_is_never_overwritten(call, store, triage, monkeypatch):
    bad = _bad_version(store, triage)
    prompt_registry.start_canary(store, "triage", version=bad, weight=50, alias=LIVE_ALIAS, author="test", proof=FORCED)
    stale = store.get_alias("triage", LIVE_ALIAS)  # what the rollback read...
    prompt_registry.promote(
        store, "triage", version=bad, alias=LIVE_ALIAS, author="human", proof=FORCED
    )  # ...before this
    monkeypatch.setattr(store, "get_alias", lambda *_args: stale)
    assert prompt_registry.auto_rollback(store, "triage", reason="alarm X") is None
    monkeypatch.undo()
    alias = store.get_alias("triage", LIVE_ALIAS)
    assert (alias.version, alias.history[-1]["by"]) == (bad, "human")  # the human's promote stands
