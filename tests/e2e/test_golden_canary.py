"""The prompt canary's auto-rollback through local mode: a version the simulator answers badly goes out
as a 50 % canary, the golden canary measures it below min_accuracy, the rollback function fed the
canary alarm's state change ends the canary, and the alias history names the alarm."""

import json

import pytest
from click.testing import CliRunner

from liftoff.cli import main
from liftoff.foundation.usecases import load_use_case
from liftoff.local import runtime
from service.dal.prompt_store import LIVE_ALIAS, PromptStore
from service.models.prompt import PromptSpec

pytestmark = pytest.mark.e2e
USE_CASE = "fixture-summary"  # its own local mode: the session's fixture-triage keeps its registry
ALARM = "liftoff-fixture-summary-local-CanaryVersionAccuracy"


@pytest.fixture
def summary_local(local):
    runtime.down(USE_CASE)
    state = runtime.up(USE_CASE)
    yield state
    runtime.down(USE_CASE)


def test_a_bad_canary_is_measured_and_rolled_back_by_its_alarm(summary_local):
    use_case = load_use_case(USE_CASE)
    table = runtime.local_table(summary_local, summary_local.table_name)
    store = PromptStore(table, USE_CASE)
    spec = use_case.prompts[0].model_dump(mode="json", by_alias=True)
    # Given a version that hides the document from the (extractive) simulator: its summaries say nothing
    spec["template"] = (
        "Summarise the document below in at most {{max_words}} words.\n<document>\nNothing to report.\n</document>\n"
        "{{document}}\n"
    )
    bad = store.publish(PromptSpec.model_validate(spec), author="test", message="a bad version").version
    runner = CliRunner()
    started = runner.invoke(
        main,
        [
            *("prompts", "canary", "summarize", "--version", str(bad), "--weight", "50", "--use-case", USE_CASE),
            *("--force", "--reason", "a bad version on purpose (test)"),  # past the eval gate, as a person could
        ],
    )
    assert started.exit_code == 0, started.output
    # When the golden canary runs
    run = runner.invoke(main, ["canary", "run", "--use-case", USE_CASE, "--json"])
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout)
    minimum = use_case.config.exit_criteria.min_accuracy
    # Then the canary version is below the criterion, the stable version is not
    assert result["canary_versions"] == {"summarize": bad}
    assert result["canary"]["accuracy"] < minimum <= result["stable"]["accuracy"]
    # and the rollback function, fed the canary alarm's state change, ends the canary
    rolled = runner.invoke(main, ["canary", "rollback", "--use-case", USE_CASE, "--alarm", ALARM])
    assert rolled.exit_code == 0, rolled.output
    assert "summarize: canary ended by" in rolled.output
    alias = store.get_alias("summarize", LIVE_ALIAS)
    assert (alias.version, alias.canary_version) == (1, None)
    history = runner.invoke(main, ["prompts", "history", "summarize", "--use-case", USE_CASE])
    assert "auto-rollback" in history.output and ALARM in history.output
