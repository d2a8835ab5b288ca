import itertools
import json

import pytest
from click.testing import CliRunner

from liftoff import INSTALLED_FROM
from liftoff.cost_project import (
    Usage,
    clock,
    hour_reached,
    idle_cost,
    lambda_duration,
    markdown,
    measured_usage,
    monthly_costs,
    project,
    project_use_case,
    spend_reads_per_request,
    traffic_profile,
)
from liftoff.foundation.eval_cases import golden_cases
from liftoff.foundation.memory import measured, memory_for
from liftoff.foundation.usecases import load_use_case


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
    usage = measured_usage("fixture-triage", report)
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (2, 200, 30)
    assert usage.model_cost_usd == pytest.approx(0.00002)


def test_monthly_arithmetic():
    usage = Usage(requests=2, input_tokens=200, output_tokens=30, model_cost_usd=0.00002, log_bytes=1000, source="t")
    costs = monthly_costs("fixture-triage", "prod", 10_000, usage, duration_ms=2500)
    n = 10_000 * 30
    assert costs["Bedrock model"] == pytest.approx(n * 0.00002)
    assert costs["API Gateway"] == pytest.approx(n / 1e6 * 3.50)
    # the invoke function's memory is the one the stack deploys: from the measured peak RSS
    memory_gb = memory_for(measured()["peak_rss_mb"]) / 1024
    assert costs["Lambda duration"] == pytest.approx(n * 2.5 * memory_gb * 0.0000133334)
    assert costs["WAF"] == pytest.approx(5 + 3 * 1 + n / 1e6 * 0.60)
    assert "WAF" not in monthly_costs("fixture-triage", "sandbox", 10_000, usage, duration_ms=2500)
    # no traffic still costs the dashboard, alarms, metrics, the key (and WAF in prod)
    assert idle_cost("fixture-triage", "prod") == pytest.approx(23 * 0.30 + 3 + 16 * 0.10 + 1 + 0.40 + 5 + 3)
    # the golden canary: its cases at the measured cost, hourly in prod (720 runs in 30 days), daily in sandbox
    golden = len(golden_cases("fixture-triage"))
    assert costs["Golden canary (model calls)"] == pytest.approx(720 * golden * 0.00002)
    sandbox = monthly_costs("fixture-triage", "sandbox", 10_000, usage, duration_ms=2500)
    assert sandbox["Golden canary (model calls)"] == pytest.approx(30 * golden * 0.00002)


def test_the_duration_is_measured_unless_the_simulator_answered():
    config = load_use_case("fixture-triage").config
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
    rows = {x.name: x for x in project_use_case("fixture-triage", "prod", 1_000_000, usage, 2500, 3).limits}
    quota = rows["API daily quota (api.quota_per_day)"]
    assert quota.need > quota.limit and "api.quota_per_day" in quota.fix
    throttle = rows["API Gateway throttle (api.throttle_rate_per_s)"]
    assert throttle.need == pytest.approx(1_000_000 / 86_400 * 3)


# fixture-triage through the API: about $0.000929 a request, most of it the guardrail's text units
TRIAGE = Usage(10, 180, 40, 0.000929, 1200, "t")


def test_at_10000_a_day_the_daily_cap_is_the_first_limit_and_refuses_its_share():
    # Given fixture-triage (daily cap $5, quota 10,000, budget $50) at 10,000 requests a day, flat traffic
    config = load_use_case("fixture-triage").config
    projection = project_use_case("fixture-triage", "prod", 10_000, TRIAGE, 2500, peak_factor=3)
    # Then the day's spend is $9.29, the cap refuses 1 - 5 / 9.29 of the requests
    assert projection.daily_spend_usd == pytest.approx(9.29)
    assert projection.refused_share == pytest.approx(1 - 5 / 9.29)
    # and the first limit is the cap, reached when the day's cumulative spend passes $5 (the charter's profile)
    first = projection.first
    assert first.name == "daily spend cap (budget.daily_cap_usd)"
    shares, _ = traffic_profile(config)
    spent_by = [sum(shares[: h + 1]) * 9.29 for h in range(24)]
    hour = next(h for h, spent in enumerate(spent_by) if spent >= 5)
    assert hour <= first.reached_hours < hour + 1
    assert "46% of the day's requests refused" in first.detail
    # the quota (10,000 = 10,000) is met, not passed; the budget is passed later, with the cap's traffic billed
    rows = {x.name: x for x in projection.limits}
    assert not rows["API daily quota (api.quota_per_day)"].exceeded
    budget = rows["monthly budget (budget.monthly_usd)"]
    assert budget.exceeded and budget.reached_hours > first.reached_hours
    model = projection.costs["Bedrock model"]
    assert projection.billed_monthly_usd == pytest.approx(projection.monthly_usd - model + 5 * 30)


def test_a_flat_day_reaches_the_cap_in_proportion_and_says_it_assumed_flat_traffic():
    assert hour_reached(10.0, 5.0, [1 / 24] * 24) == pytest.approx(12.0)
    assert hour_reached(4.0, 5.0, [1 / 24] * 24) is None
    assert hour_reached(10.0, 5.0, [0] * 12 + [1 / 12] * 12) == pytest.approx(18.0)
    assert clock(13.4) == "13:24 UTC" and clock(24 * 4 + 7.2) == "day 5, 07:12 UTC"
    config = load_use_case("fixture-summary").config
    assert config.charter.traffic_by_utc_hour is None
    assert traffic_profile(config) == ([1 / 24] * 24, "flat traffic (no charter traffic_by_utc_hour)")


def test_within_every_limit_the_nearest_is_named():
    projection = project_use_case("fixture-triage", "prod", 100, TRIAGE, 2500)
    assert not any(x.exceeded for x in projection.limits)
    assert projection.refused_share == 0
    assert (
        projection.first.name
        == max((x for x in projection.limits if x.name != "Bedrock tokens per minute"), key=lambda x: x.share).name
    )


def test_the_peak_comes_from_the_charter_scaled_to_the_volume():
    charter = load_use_case("fixture-triage").config.charter
    rows = {
        x.name: x
        for x in project_use_case("fixture-triage", "prod", 2 * charter.expected_requests_per_day, TRIAGE, 2500).limits
    }
    assert rows["API Gateway throttle (api.throttle_rate_per_s)"].need == pytest.approx(2 * charter.peak_requests_per_s)


def test_the_command_names_the_cap_first_and_defaults_to_the_charters_volume(report):
    # Given a measured report at triage's cost per request
    rows = [
        {"id": str(i), "ok": True, "input_tokens": 180, "output_tokens": 40, "cost_usd": 0.000929} for i in range(3)
    ]
    (report / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    result = CliRunner().invoke(project, ["--requests-per-day", "10000", "--report", str(report)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "10,000/day (peak: the charter's peak_requests_per_s, scaled): first limit reached: daily spend cap" in text
    assert "46% of the day's requests refused with 429 SpendCapHit" in text
    assert "monthly budget (budget.monthly_usd)" in text
    defaulted = CliRunner().invoke(project, ["--report", str(report), "--json"])
    charter = load_use_case("fixture-triage").config.charter
    assert json.loads(defaulted.stdout)["projections"][0]["requests_per_day"] == charter.expected_requests_per_day


def test_the_command_prints_three_scales(report):
    result = CliRunner().invoke(project, ["--requests-per-day", "1000", "--report", str(report), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document["monthly_usd"]) == ["1,000/day", "10,000/day", "100,000/day"]


def test_the_figures_in_docs_cost_md_are_the_tools():
    # Given the projection docs/cost.md shows, and the measured usage it records in its first line
    text = (INSTALLED_FROM / "docs" / "cost.md").read_text()
    block = text.split("<!-- cost-project:begin -->\n", 1)[1].split("<!-- cost-project:end -->", 1)[0]
    recorded = json.loads(block.split("<!-- usage: ", 1)[1].split(" -->", 1)[0])
    duration = recorded.pop("duration_ms")
    usage = Usage(**recorded)
    # When the tool projects the same usage (prod, 10,000 a day) for the template's triage example: the docs show the
    # shipped support-triage, and fixture-triage is its copy (tests/fixtures/project), there whether or not a team
    # kept the example in usecases/
    projections = [project_use_case("fixture-triage", "prod", n, usage, duration) for n in (10_000, 100_000, 1_000_000)]
    fresh = markdown("fixture-triage", "prod", projections, usage, duration)
    fresh = fresh.replace("| fixture-triage, prod (USD", "| support-triage, prod (USD", 1)  # the table's label
    # Then the docs show exactly its figures
    assert block == fresh, (
        "docs/cost.md's projection is out of date: replace the block between the cost-project markers with "
        "`liftoff cost project --use-case support-triage --requests-per-day 10000 --markdown` (after a local "
        f"eval), or with this, computed from the usage it records:\n{fresh}"
    )
    assert "first limit reached: daily spend cap (budget.daily_cap_usd)" in block.split("- **10,000/day**", 1)[1]
