"""`liftoff load`'s summary of a Locust run."""

import click
import pytest

from liftoff.load import summarize

HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
)


def test_a_run_in_which_no_request_completed_says_what_to_do(tmp_path):
    # Given Locust's stats of a run whose environments were still starting when it ended (N/A percentiles)
    (tmp_path / "locust_stats.csv").write_text(HEADER + ",Aggregated,0,0,0,0.0,0,0,0,0.0,0.0" + ",N/A" * 11 + "\n")
    # When it is summarised / Then a plain error says what to do next (it was a ValueError traceback)
    with pytest.raises(click.ClickException, match=r"no request completed .* --duration"):
        summarize(tmp_path / "locust", {})


def test_a_run_is_summarised(tmp_path):
    (tmp_path / "locust_stats.csv").write_text(
        HEADER + ",Aggregated,10,1,200,210.0,190,400,300,2.0,0.1,200,210,220,230,250,300,350,400,400,400,400\n"
    )
    summary = summarize(tmp_path / "locust", {"usd": 0.01, "answered": 9})
    assert (summary["requests"], summary["p50_ms"], summary["p95_ms"]) == (10, 200.0, 300.0)
