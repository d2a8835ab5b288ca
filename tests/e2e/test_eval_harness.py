"""The eval harness against local mode: scoring, retries, errors vs wrong answers, the gate, model
comparison, and the HTML report rendered in headless Chromium."""

import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from liftoff.evals.cli import eval_group
from liftoff.evals.runner import run_cases
from liftoff.evals.targets import Backoff, HttpTarget
from liftoff.foundation.config import ExitCriteria
from liftoff.foundation.eval_cases import EvalCase, load_suite
from liftoff.foundation.usecases import load_use_case

pytestmark = pytest.mark.e2e
USE_CASE = "fixture-triage"
CATEGORY_BILLING = [{"type": "json_field", "path": "category", "equals": "billing"}]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def case(cid: str, message: str, checks=CATEGORY_BILLING, **extra) -> EvalCase:
    return EvalCase.model_validate(
        {"id": cid, "variables": {"message": message}, "checks": checks, "tags": ["t"], **extra}
    )


def test_runner_retries_throttling_and_reports_failures_as_errors_not_wrong_answers(local):
    target = HttpTarget(local.invoke_url, local.api_key, name="local", backoff=Backoff(max_retries=3, base_s=0.01))
    cases = [
        case("good", "I was charged twice, refund please"),
        case("wrong", "my parcel never arrived"),  # the simulator says shipping: a wrong answer here
        # throttled 4 times: the handler's 3 attempts give up once (429), the eval client's retry gets through
        case("burst", "refund my payment [[sim:throttle-4]]"),
        case("broken", "refund [[sim:error]]"),  # the model fails: an error, not a wrong answer
        case("empty", "", expect_error="MissingVariable"),
    ]
    # p95 far out of reach: four concurrent cases may start local environments (seconds each on a busy machine), and
    # this test is about retries and errors, not latency
    criteria = ExitCriteria(min_accuracy=0.5, p95_latency_ms=120_000, max_cost_per_request_usd=0.01, max_error_rate=0.1)
    run = run_cases(cases, load_suite(USE_CASE), target, criteria, concurrency=4)
    status = {r.id: r for r in run.results}
    assert {k: v.status for k, v in status.items()} == {
        "good": "pass",
        "wrong": "fail",
        "burst": "pass",
        "broken": "error",
        "empty": "pass",
    }
    assert status["burst"].answer.attempts == 2
    assert status["broken"].answer.error_code == "ModelError"
    assert "category is 'shipping'" in status["wrong"].failed_checks[0].detail
    s = run.summary
    assert (s.passed, s.failed, s.errors) == (3, 1, 1)
    assert s.accuracy == pytest.approx(3 / 4)  # errors are not wrong answers
    assert s.error_rate == pytest.approx(1 / 5)
    assert {c.name: c.passed for c in s.criteria} == {
        "accuracy": True,
        "p95 latency": True,
        "cost per request": True,
        "error rate": False,  # 20 % > 10 %: the run cannot be judged
        "invalid output rate": True,  # every answer matched the prompt's output schema
    }
    assert s.verdict is False


def test_cli_exit_code_follows_the_criteria_and_gate_prints_only_the_verdict(local, tmp_path):
    runner = CliRunner()
    passing = runner.invoke(
        eval_group,
        ["run", "--use-case", USE_CASE, "--tag", "punctuation", "--tag", "markup", "--out", str(tmp_path / "a")],
    )
    assert passing.exit_code == 0, passing.output
    assert "PASS" in passing.output
    for name in ("report.json", "report.md", "report.html", "results.jsonl"):
        assert (tmp_path / "a" / name).exists()
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["verdict"] == "PASS" and report["simulated"] is True and report["passed"] is True
    digest = load_use_case(USE_CASE).prompts[0].content_hash()
    # what was evaluated: what live serves (v1 of the repo's file), pinned, through the simulator
    assert {k: report["evaluated"][k] for k in ("prompt_id", "version", "alias", "content_hash", "target")} == {
        "prompt_id": "triage",
        "version": 1,
        "alias": "live",
        "content_hash": digest,
        "target": "local",
    }
    assert report["evaluated"]["simulated"] is True and report["evaluated"]["guardrail_applied"] is True

    failing = runner.invoke(
        eval_group, ["run", "--use-case", USE_CASE, "--tag", "language", "--gate", "--out", str(tmp_path / "b")]
    )
    assert failing.exit_code == 1
    assert failing.output.strip().splitlines() == [
        f"{USE_CASE}: FAIL triage v1 (alias live), sha256:{digest[:12]}: accuracy 0.0%, needs >= 85.0% "
        f"({tmp_path / 'b' / 'report.json'})"
    ]

    gate = runner.invoke(eval_group, ["gate", "--use-case", USE_CASE, "--report", str(tmp_path / "b")])
    assert gate.exit_code == 1
    assert "FAIL (accuracy)" in gate.output


def test_a_run_is_compared_with_the_previous_report_of_the_use_case(local, tmp_path, monkeypatch):
    from liftoff.evals import report

    # Given an earlier run of two tags, written where `liftoff eval run` writes reports
    monkeypatch.setattr(report, "REPORTS_DIR", tmp_path / "reports")
    runner = CliRunner()
    first = runner.invoke(eval_group, ["run", "--use-case", USE_CASE, "--tag", "punctuation", "--tag", "markup"])
    assert first.exit_code in (0, 1), first.output
    (earlier,) = (tmp_path / "reports" / USE_CASE).glob("*/report.json")
    # When the next run evaluates one more tag
    args = ["run", "--use-case", USE_CASE, "--tag", "punctuation", "--tag", "markup", "--tag", "language"]
    second = runner.invoke(eval_group, [*args, "--out", str(tmp_path / "b")])
    assert second.exit_code in (0, 1), second.output
    # Then its report names the earlier one, each criterion's figures, and the language cases as new
    previous = json.loads((tmp_path / "b" / "report.json").read_text())["previous"]
    assert previous["path"] == str(earlier)
    (run,) = previous["runs"]
    language = {json.loads(line)["id"] for line in (tmp_path / "b" / "results.jsonl").read_text().splitlines()}
    language -= {json.loads(line)["id"] for line in (earlier.parent / "results.jsonl").read_text().splitlines()}
    assert language and run["new_cases"] == sorted(language)
    assert {c["name"] for c in run["criteria"]} >= {"accuracy", "p95 latency", "cost per request"}
    assert "Since the previous run" in (tmp_path / "b" / "report.html").read_text()


def test_model_comparison_names_the_cheapest_model_that_meets_every_criterion(local, tmp_path):
    micro, lite = "us.amazon.nova-micro-v1:0", "us.amazon.nova-lite-v1:0"
    result = CliRunner().invoke(
        eval_group,
        [
            "run",
            "--use-case",
            USE_CASE,
            "--target",
            "bedrock",
            "--simulator",
            "--model",
            lite,
            "--model",
            micro,
            "--tag",
            "punctuation",
            "--tag",
            "markup",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert [r["model"] for r in report["runs"]] == [lite, micro]
    assert report["cheapest_passing_model"] == micro
    assert "cheapest model meeting every criterion" in result.output
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") >= 2 + 3 * 2  # two comparison scatters, three charts per model


def test_the_bedrock_target_evaluates_a_published_version_with_the_guardrail(local, tmp_path):
    # Given v1 in the local registry / When the bedrock target (the simulator) evaluates it by number
    result = CliRunner().invoke(
        eval_group,
        ["run", "--target", "bedrock", "--simulator", "--version", "1", "--tag", "guardrail", "--out", str(tmp_path)],
    )
    assert result.exit_code in (0, 1), result.output
    # Then the registry's spec ran, with the use case's guardrail applied (its blocks scored as the API's)
    evaluated = json.loads((tmp_path / "report.json").read_text())["evaluated"]
    assert (evaluated["target"], evaluated["version"], evaluated["simulated"]) == ("bedrock", 1, True)
    assert evaluated["guardrail_applied"] is True and evaluated["guardrail"]["id"] == "localguardrail"
    assert evaluated["content_hash"] == load_use_case(USE_CASE).prompts[0].content_hash()
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert any(r["error_code"] == "GuardrailIntervened" and r["status"] == "pass" for r in results)
    assert "recorded in the local registry: triage v1" in result.output


def test_model_flag_is_refused_for_api_targets(local):
    result = CliRunner().invoke(eval_group, ["run", "--target", "local", "--model", "x"])
    assert result.exit_code != 0
    assert "--target bedrock" in result.output


def test_html_report_renders_offline_in_headless_chromium(local, tmp_path):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it; `apt-get install chromium`)")
    out = tmp_path / "r"
    result = CliRunner().invoke(eval_group, ["run", "--use-case", USE_CASE, "--limit", "40", "--out", str(out)])
    assert result.exit_code in (0, 1), result.output
    html = (out / "report.html").read_text()
    # self-contained: no script and nothing fetched (SVG namespace URIs are names, not requests)
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<link" not in html
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,2000",
            f"file://{out / 'report.html'}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert shot.stat().st_size > 20_000  # a page with charts, not a blank one
