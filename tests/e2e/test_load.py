"""`liftoff load` end to end: a short Locust run against local mode, summarised with a chart."""

import json

import pytest
from click.testing import CliRunner

from liftoff.evals.cli import eval_group
from liftoff.load import load
from liftoff.local import runtime

pytestmark = pytest.mark.e2e


def test_a_short_steady_run_is_summarised(local):
    # fixture-summary, so the session's fixture-triage local mode keeps its settings; not running, so the run starts
    # its environments (an earlier test on this worker may have left it up, warm)
    runtime.down("fixture-summary")
    result = CliRunner().invoke(
        load,
        ["--use-case", "fixture-summary", "--users", "3", "--duration", "5", "--sim-latency-ms", "20", "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # progress goes to stderr; stdout is the JSON alone
    # every user's requests are counted, however slowly the environments start (in-flight ones are waited
    # for): a throughput figure would make this test a timing test on a shared machine
    assert summary["requests"] >= 3
    assert summary["error_rate"] == 0
    assert 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"]
    assert summary["cost_per_request_usd"] > 0
    # three users keep up to three execution environments busy, each started with a cold start
    assert 1 <= summary["cold_starts"] <= 3
    assert summary["cold_start_median_ms"] > 0
    assert summary["environments"] <= summary["max_environments"]
    assert summary["throttles"] == 0
    # and the run is kept as the last local load result, with the rate it ran at, for `liftoff readiness`
    from liftoff.last_results import read_results

    last = read_results("fixture-summary", "load")["local"]
    assert (last["rps"], last["users"], last["duration_s"]) == (summary["rps"], 3, 5)


def test_what_a_command_starts_it_stops(local):
    # Given fixture-summary not running in local mode
    runtime.down("fixture-summary")
    # When an eval run needs it / Then it starts it, says so, and stops it at the end
    result = CliRunner().invoke(eval_group, ["run", "--use-case", "fixture-summary", "--limit", "2", "--gate"])
    assert result.exit_code in (0, 1), result.output
    assert "starting local mode for fixture-summary" in result.stderr
    assert "stopped the local mode this command started" in result.stderr
    assert len(result.stdout.strip().splitlines()) == 1  # the gate's one verdict line
    assert not runtime.is_running(runtime.read_state("fixture-summary"))
    # With --keep-local it is left running, and the command says where and how to stop it
    kept = CliRunner().invoke(
        eval_group, ["run", "--use-case", "fixture-summary", "--limit", "2", "--gate", "--keep-local"]
    )
    assert "liftoff local down --use-case fixture-summary" in kept.stderr
    assert runtime.is_running(runtime.read_state("fixture-summary"))
    runtime.down("fixture-summary")
