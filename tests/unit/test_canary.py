"""The golden canary scores the golden cases through the real invoke path (moto + the simulator), on the
stable version and on a prompt canary's version apart; the auto-rollback ends a canary, records the
alarm, and never overwrites a newer human move."""

import pytest

from liftoff.foundation.canary import canary_payload
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import golden_cases
from service.dal.prompt_store import LIVE_ALIAS, PromptStore
from service.handlers import canary as canary_module
from service.handlers import canary_rollback
from service.logic import prompt_registry
from service.models.prompt import PromptSpec

ALARM_EVENT = {
    "detail-type": "CloudWatch Alarm State Change",
    "detail": {"alarmName": "liftoff-fixture-triage-local-CanaryVersionAccuracy", "state": {"value": "ALARM"}},
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
    cases = golden_cases("fixture-triage")
    assert 0 < len(cases) <= 20 and all({"clean", "edge"} & set(c.tags) for c in cases)
    import shutil

    from liftoff import REPO_ROOT

    for folder in ("usecases", "prompts", "evals", "pricing"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    (tmp_path / "cdk.json").write_text("{}")
    suite = tmp_path / "evals" / "fixture-triage" / "suite.yaml"
    suite.write_text(suite.read_text() + "\ngolden:\n  cases: [billing-001, no-such-case]\n")
    with pytest.raises(ConfigError, match="golden.cases.*no-such-case"):
        golden_cases("fixture-triage", root=tmp_path)


def test_the_canary_scores_the_stable_version_and_a_bad_canary_apart(call, store, triage):
    payload = canary_payload("fixture-triage")
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
    assert last["note"] == "alarm liftoff-fixture-triage-local-CanaryVersionAccuracy"
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


def _emf(capsys) -> dict:
    """The metrics the handler published (its EMF records on stdout), name -> value."""
    import json

    published = {}
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and "_aws" in (record := json.loads(line)):
            for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = record[metric["Name"]]
                published[metric["Name"]] = value[0] if isinstance(value, list) else value
    return published


def test_a_run_where_nothing_is_answered_publishes_no_accuracy(call, store, triage, spend_table, capsys):
    # Given the daily spend cap is reached: every case is refused before the model is called
    from datetime import UTC, datetime

    today = datetime.now(UTC).date().isoformat()
    spend_table.put_item(Item={"pk": f"{triage.name}#{today}", "spend_usd": 1000, "requests": 1})
    capsys.readouterr()
    # When the golden canary runs
    result = canary_module.lambda_handler(canary_payload("fixture-triage"), None)
    # Then no case is a wrong answer, there is no accuracy, and none is published (not a 0)
    stable = result["stable"]
    assert (stable["passed"], stable["failed_count"], stable["errors"]) == (0, 0, stable["cases"])
    assert stable["accuracy"] is None
    assert set(stable["unanswered"].values()) == {"SpendCapHit"}
    published = _emf(capsys)
    assert "CanaryAccuracy" not in published and "CanaryLatencyP95" not in published
    assert published["CanaryUnanswered"] == stable["cases"]


def test_unanswered_cases_are_errors_apart_under_the_eval_policy(call, store, triage, monkeypatch, capsys):
    # Given Bedrock throttles every other case (no answer after retries)
    from service.models.errors import ModelThrottled

    real_invoke, calls = canary_module.invoke, []

    def throttling(request, *, request_id, deps):
        calls.append(request_id)
        if len(calls) % 2 == 0:
            raise ModelThrottled("throttled after 3 attempts")
        return real_invoke(request, request_id=request_id, deps=deps)

    monkeypatch.setattr(canary_module, "invoke", throttling)
    payload = canary_payload("fixture-triage")
    payload["golden_canary"]["budget"]["concurrency"] = 1  # every other case, in order
    capsys.readouterr()
    # When the canary runs
    stable = canary_module.lambda_handler(payload, None)["stable"]
    # Then accuracy is pass / (pass + fail): the throttled half counts in neither
    assert stable["errors"] == len(calls) // 2
    assert stable["passed"] + stable["failed_count"] == stable["cases"] - stable["errors"]
    assert stable["accuracy"] == stable["passed"] / (stable["passed"] + stable["failed_count"])
    assert stable["accuracy"] >= triage.config.exit_criteria.min_accuracy  # the healthy prompt stays healthy
    assert _emf(capsys)["CanaryAccuracy"] == stable["accuracy"]


def test_expect_error_cases_pass_when_refused_with_that_code(call, store, tmp_path):
    # Given a golden set chosen by id that holds two cases the service must refuse (MissingVariable)
    import shutil

    from liftoff import REPO_ROOT

    for folder in ("usecases", "prompts", "evals", "pricing"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    (tmp_path / "cdk.json").write_text("{}")
    suite = tmp_path / "evals" / "fixture-triage" / "suite.yaml"
    suite.write_text(suite.read_text() + "\ngolden:\n  cases: [edge-empty, edge-whitespace-only]\n")
    payload = canary_payload("fixture-triage", root=tmp_path)
    assert {c["expect_error"] for c in payload["golden_canary"]["cases"]} == {"MissingVariable"}
    # When the canary runs them
    stable = canary_module.lambda_handler(payload, None)["stable"]
    # Then both pass, as they do in `liftoff eval`
    assert (stable["passed"], stable["cases"], stable["accuracy"]) == (2, 2, 1.0)


def test_the_run_starts_a_case_only_while_its_worst_case_fits(call, store, monkeypatch):
    # Given a function with room for two cases' worst case, and cases that each take their worst case
    payload = canary_payload("fixture-triage")
    budget = payload["golden_canary"]["budget"]
    budget["concurrency"] = 1
    now = [1000.0]
    monkeypatch.setattr(canary_module, "clock", lambda: now[0])
    real_invoke = canary_module.invoke

    def slow(request, *, request_id, deps):
        now[0] += budget["case_s"]
        return real_invoke(request, request_id=request_id, deps=deps)

    monkeypatch.setattr(canary_module, "invoke", slow)

    class Context:
        def get_remaining_time_in_millis(self):
            return (2 * budget["case_s"] + canary_module.FINISH_RESERVE_S) * 1000

    # When the canary runs
    stable = canary_module.lambda_handler(payload, Context())["stable"]
    # Then two cases ran and the rest, which could have overrun the timeout, did not start: errors, not wrong
    assert stable["cases"] - stable["errors"] == 2
    assert set(stable["unanswered"].values()) == {canary_module.OUT_OF_TIME}
    assert now[0] == 1000.0 + 2 * budget["case_s"]


def _alarm_event(raised_at: str, datapoints: list[str] | None = None, period_s: int = 300) -> dict:
    """A canary alarm's state change into ALARM, as CloudWatch sends it through EventBridge."""
    import json

    state = {"value": "ALARM", "timestamp": raised_at}
    if datapoints is not None:
        state["reasonData"] = json.dumps(
            {"version": "1.0", "period": period_s, "evaluatedDatapoints": [{"timestamp": t} for t in datapoints]}
        )
    return {**ALARM_EVENT, "detail": {**ALARM_EVENT["detail"], "state": state}}


def _at(monkeypatch, when: str) -> None:
    from service.dal import prompt_store

    monkeypatch.setattr(prompt_store, "_now", lambda: when)


def _v2_aborted_then_v3(store, triage, monkeypatch) -> tuple[int, int]:
    """A person starts canary v2 at 10:00, aborts it at 10:20, starts canary v3 at 11:00."""
    v2 = _bad_version(store, triage)
    data = next(p for p in triage.prompts if p.prompt_id == "triage").model_dump(mode="json", by_alias=True)
    data["template"] += "\n(v3)"
    v3 = store.publish(PromptSpec.model_validate(data), author="test", message="v3").version
    _at(monkeypatch, "2026-12-01T10:00:00+00:00")
    prompt_registry.start_canary(
        store, "triage", version=v2, weight=50, alias=LIVE_ALIAS, author="person", proof=FORCED
    )
    _at(monkeypatch, "2026-12-01T10:20:00+00:00")
    prompt_registry.abort_canary(store, "triage", alias=LIVE_ALIAS, author="person")
    _at(monkeypatch, "2026-12-01T11:00:00+00:00")
    prompt_registry.start_canary(
        store, "triage", version=v3, weight=50, alias=LIVE_ALIAS, author="person", proof=FORCED
    )
    _at(monkeypatch, "2026-12-01T23:59:59+00:00")  # the rollback's own move, after the alarms below
    return v2, v3


@pytest.mark.parametrize(
    ("event", "why"),
    [
        # the alarm changed state at 10:50, before v3 started: v2's, delivered late
        (_alarm_event("2026-12-01T10:50:00.000+0000"), "before canary v"),
        # raised after v3 started, but on v2's data (10:10-10:15)
        (_alarm_event("2026-12-01T11:01:00.000+0000", ["2026-12-01T10:10:00.000+0000"]), "before canary v"),
        # a daily datapoint that spans v2's run and v3's: it may be v2's
        (
            _alarm_event("2026-12-01T23:59:00.000+0000", ["2026-12-01T00:00:00.000+0000"], period_s=86_400),
            "while canary v",
        ),
    ],
)
def test_an_alarm_for_an_earlier_canary_does_not_end_the_current_one(call, store, triage, monkeypatch, event, why):
    # Given v2 was aborted by a person, who then started v3
    _, v3 = _v2_aborted_then_v3(store, triage, monkeypatch)
    # When an alarm that can be about v2 reaches the rollback function
    result = canary_rollback.lambda_handler(event, None)
    # Then v3 keeps running, and the result says why
    assert result["rolled_back"] == []
    assert why in result["left_alone"]["triage"]
    assert store.get_alias("triage", LIVE_ALIAS).canary_version == v3


def test_an_alarm_on_the_current_canarys_data_ends_it(call, store, triage, monkeypatch):
    # Given the same history, and an alarm raised at 11:20 on 11:10-11:15 data (v3's alone)
    _v2_aborted_then_v3(store, triage, monkeypatch)
    event = _alarm_event("2026-12-01T11:20:00.000+0000", ["2026-12-01T11:10:00.000+0000"])
    # When it reaches the rollback function / Then v3 is ended
    assert canary_rollback.lambda_handler(event, None)["rolled_back"] == [{"prompt_id": "triage", "stable_version": 1}]
    assert store.get_alias("triage", LIVE_ALIAS).canary_version is None
