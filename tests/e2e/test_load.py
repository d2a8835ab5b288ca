"""`liftoff load` end to end: a short Locust run against local mode, summarised with a chart."""

import json

import pytest
from click.testing import CliRunner

from liftoff.load import load

pytestmark = pytest.mark.e2e


def test_a_short_steady_run_is_summarised(local):
    # doc-summary, so the session's support-triage local mode keeps its settings
    result = CliRunner().invoke(
        load,
        ["--use-case", "doc-summary", "--users", "3", "--duration", "5", "--sim-latency-ms", "20", "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["requests"] > 10
    assert summary["error_rate"] == 0
    assert 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"]
    assert summary["cost_per_request_usd"] > 0
