"""`liftoff load`'s summary of a Locust run, from Locust's final stats (--json-file)."""

import json

import click
import pytest

from liftoff.load import summarize


def _stats(tmp_path, *entries):
    path = tmp_path / "locust.json"
    path.write_text(json.dumps(list(entries)))
    return path


def _entry(times: dict[str, int], failures: int = 0) -> dict:
    return {
        "name": "invoke",
        "method": "POST",
        "num_requests": sum(times.values()),
        "num_failures": failures,
        "response_times": times,
    }


def test_a_run_in_which_no_request_completed_says_what_to_do(tmp_path):
    # Given a run whose environments were still starting when it ended
    # When it is summarised / Then a plain error says what to do next (it was a ValueError traceback)
    with pytest.raises(click.ClickException, match=r"no request completed .* --duration"):
        summarize(_stats(tmp_path), {}, 5)
    with pytest.raises(click.ClickException, match=r"no request completed"):
        summarize(tmp_path / "absent.json", {}, 5)


def test_a_run_is_summarised_from_the_final_stats(tmp_path):
    # 10 requests: eight at ~200 ms, one at 300, one at 400; one failed
    stats = _stats(tmp_path, _entry({"200": 8, "300": 1, "400": 1}, failures=1))
    summary = summarize(stats, {"usd": 0.01, "answered": 9}, 5)
    assert (summary["requests"], summary["failures"], summary["error_rate"]) == (10, 1, 0.1)
    assert (summary["p50_ms"], summary["p95_ms"], summary["p99_ms"]) == (200.0, 400.0, 400.0)
    assert summary["rps"] == 2.0
    assert summary["cost_per_request_usd"] == pytest.approx(0.01 / 9)


def test_a_short_run_counts_the_requests_the_csv_missed(tmp_path):
    # Locust's CSV is written every few seconds: a 5 s run whose one request ended at 6 s showed 0 there.
    # The final stats count it.
    summary = summarize(_stats(tmp_path, _entry({"6100": 1})), {}, 5)
    assert (summary["requests"], summary["p95_ms"]) == (1, 6100.0)
