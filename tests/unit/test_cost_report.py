import json

import boto3
import click
import pytest
from botocore.stub import Stubber

from liftoff.cost_report import INSIGHTS_QUERY, insights_report, local_report, parse_since, percentile


def ok_line(version: int, model: str, cost: float, tokens=(100, 20), latency=40) -> str:
    return json.dumps(
        {
            "level": "INFO",
            "message": "invoke ok",
            "prompt_id": "triage",
            "prompt_version": version,
            "model_id": model,
            "cost_usd": cost,
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "latency_ms": latency,
        }
    )


def test_local_report_groups_by_prompt_version_and_model(tmp_path):
    micro, lite = "us.amazon.nova-micro-v1:0", "us.amazon.nova-lite-v1:0"
    lines = [
        ok_line(1, micro, 0.00001, latency=30),
        ok_line(1, micro, 0.00003, latency=50),
        ok_line(2, lite, 0.0002, tokens=(300, 40), latency=90),
        '{"_aws": {"CloudWatchMetrics": []}, "CostUSD": [0.5]}',  # EMF: not a log line
        '{"message": "invoke failed", "status": 429}',
        "not json at all",
        "{broken json",
    ]
    log = tmp_path / "local.log"
    log.write_text("\n".join(lines))
    rows = {(r.prompt_version, r.model_id): r for r in local_report(log)}
    assert set(rows) == {(1, micro), (2, lite)}
    v1 = rows[(1, micro)]
    assert (v1.requests, v1.total_usd, v1.avg_usd) == (2, pytest.approx(0.00004), pytest.approx(0.00002))
    assert (v1.p50_usd, v1.p95_usd, v1.p95_latency_ms) == (0.00001, 0.00003, 50)
    v2 = rows[(2, lite)]
    assert (v2.requests, v2.avg_input_tokens, v2.avg_output_tokens) == (1, 300, 40)


def test_local_report_without_a_log_says_what_to_do(tmp_path):
    with pytest.raises(click.ClickException, match="liftoff local up"):
        local_report(tmp_path / "missing.log")


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50, 95, 100)
    assert percentile([7.0], 95) == 7.0


@pytest.mark.parametrize(("text", "seconds"), [("90m", 5400), ("24h", 86_400), ("7d", 604_800)])
def test_since(text, seconds):
    assert parse_since(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "0h", "5w", "-3d", "abc"])
def test_bad_since_is_refused(text):
    with pytest.raises(click.BadParameter):
        parse_since(text)


def test_deployed_report_runs_one_insights_query_and_waits_for_it():
    logs = boto3.client("logs", region_name="us-east-1")
    stub = Stubber(logs)
    stub.add_response(
        "start_query",
        {"queryId": "q-1"},
        {
            "logGroupName": "/aws/lambda/x",
            "startTime": 1_000_000 - 3600,
            "endTime": 1_000_000,
            "queryString": INSIGHTS_QUERY,
        },
    )
    stub.add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": "q-1"})
    row = {
        "prompt_id": "triage",
        "prompt_version": "3",
        "model_id": "us.amazon.nova-micro-v1:0",
        "requests": "1200",
        "total_usd": "0.012",
        "avg_usd": "0.00001",
        "p50_usd": "0.000009",
        "p95_usd": "0.00002",
        "avg_input_tokens": "120.5",
        "avg_output_tokens": "30.25",
        "p95_latency_ms": "850",
    }
    stub.add_response(
        "get_query_results",
        {"status": "Complete", "results": [[{"field": k, "value": v} for k, v in row.items()]]},
        {"queryId": "q-1"},
    )
    waits = []
    with stub:
        (got,) = insights_report(logs, "/aws/lambda/x", since_s=3600, now=lambda: 1_000_000, sleep=waits.append)
    stub.assert_no_pending_responses()
    assert waits == [1.0]
    assert (got.prompt_version, got.requests, got.total_usd, got.p95_latency_ms) == (3, 1200, 0.012, 850.0)


def test_a_failed_insights_query_is_a_clear_error():
    logs = boto3.client("logs", region_name="us-east-1")
    stub = Stubber(logs)
    stub.add_response("start_query", {"queryId": "q-2"})
    stub.add_response("get_query_results", {"status": "Failed", "results": []})
    with stub, pytest.raises(click.ClickException, match="ended Failed"):
        insights_report(logs, "/aws/lambda/x", since_s=60, now=lambda: 1_000_000, sleep=lambda _s: None)
