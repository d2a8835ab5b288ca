import itertools
import json

import pytest
from click.testing import CliRunner

from liftoff.cost_project import (
    Usage,
    idle_cost,
    lambda_duration,
    limits,
    measured_usage,
    monthly_costs,
    project,
    spend_reads_per_request,
)
from liftoff.evals.cases import golden_cases
from liftoff.usecases import load_use_case
from stacks.memory import measured, memory_for


@pytest.fixture
def report(tmp_path):
    rows = [
        {"id": "a", "ok": True, "input_tokens": 100, "output_tokens": 20, "cost_usd": 0.00001, "model_id": "m"},
        {"id": "b", "ok": True, "input_tokens": 300, "output_tokens": 40, "cost_usd": 0.00003, "model_id": "m"},
        {"id": "c", "ok": False, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "model_id": ""},
    ]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "report.json").write_text("{}")
    return tmp_path


def test_usage_is_measured_on_answered_cases(report):
    usage = measured_usage("support-triage", report)
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (2, 200, 30)
    assert usage.model_cost_usd == pytest.approx(0.00002)


def test_monthly_arithmetic():
    usage = Usage(requests=2, input_tokens=200, output_tokens=30, model_cost_usd=0.00002, log_bytes=1000, source="t")
    costs = monthly_costs("support-triage", "prod", 10_000, usage, duration_ms=2500)
    n = 10_000 * 30
    assert costs["Bedrock model"] == pytest.approx(n * 0.00002)
    assert costs["API Gateway"] == pytest.approx(n / 1e6 * 3.50)
    # the invoke function's memory is the one the stack deploys: from the measured peak RSS
    memory_gb = memory_for(measured()["peak_rss_mb"]) / 1024
    assert costs["Lambda duration"] == pytest.approx(n * 2.5 * memory_gb * 0.0000133334)
    assert costs["WAF"] == pytest.approx(5 + 3 * 1 + n / 1e6 * 0.60)
    assert "WAF" not in monthly_costs("support-triage", "sandbox", 10_000, usage, duration_ms=2500)
    # no traffic still costs the dashboard, alarms, metrics, the key (and WAF in prod)
    assert idle_cost("support-triage", "prod") == pytest.approx(22 * 0.30 + 3 + 13 * 0.10 + 1 + 0.40 + 5 + 3)
    # the golden canary: its cases at the measured cost, hourly in prod (720 runs in 30 days), daily in sandbox
    golden = len(golden_cases("support-triage"))
    assert costs["Golden canary (model calls)"] == pytest.approx(720 * golden * 0.00002)
    sandbox = monthly_costs("support-triage", "sandbox", 10_000, usage, duration_ms=2500)
    assert sandbox["Golden canary (model calls)"] == pytest.approx(30 * golden * 0.00002)


def test_the_duration_is_measured_unless_the_simulator_answered():
    config = load_use_case("support-triage").config
    real = Usage(2, 200, 30, 0.00002, 1000, "r", latency_ms=840.0, simulated=False)
    simulated = Usage(2, 200, 30, 0.00002, 1000, "s", latency_ms=12.0, simulated=True)
    assert lambda_duration(config, real, None) == (840.0, "mean latency measured by the eval (r)")
    assert lambda_duration(config, simulated, None)[0] == config.exit_criteria.p95_latency_ms
    assert lambda_duration(config, real, 1200.0) == (1200.0, "--duration-ms")


def test_spend_counter_reads_fall_as_traffic_keeps_readings_fresh():
    reads = [spend_reads_per_request(per_day, 2500) for per_day in (1_000, 10_000, 100_000, 1_000_000)]
    assert all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(reads))
    assert reads[0] > 0.9 and reads[-1] < 0.2


def test_the_first_limit_met_names_the_config_to_change():
    usage = Usage(2, 200, 30, 0.00002, 1000, "t")
    rows = {r[0]: r for r in limits("support-triage", 1_000_000, usage, duration_ms=2500, peak_factor=3)}
    quota = rows["API daily quota (api.quota_per_day)"]
    assert quota[1] > quota[2] and "api.quota_per_day" in quota[4]
    throttle = rows["API Gateway throttle (api.throttle_rate_per_s)"]
    assert throttle[1] == pytest.approx(1_000_000 / 86_400 * 3)


def test_the_command_prints_three_scales(report):
    result = CliRunner().invoke(project, ["--requests-per-day", "1000", "--report", str(report), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert list(document["monthly_usd"]) == ["1,000/day", "10,000/day", "100,000/day"]
