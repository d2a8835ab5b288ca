"""The eval's report pages: every case that did not pass with its inputs and why, the comparison with
the previous run of the same use case, and charts that stay readable (labels off the threshold line,
a cost that is the same for every case)."""

import json
import re
from datetime import UTC, datetime, timedelta

import matplotlib.pyplot as plt
import pytest

from liftoff.evals import report
from liftoff.evals.evidence import Evaluated, eval_set_hash
from liftoff.evals.report import accuracy_by_tag_chart, distribution_chart, write_report
from liftoff.evals.runner import CaseResult, Run, summarize
from liftoff.evals.targets import Answer
from liftoff.foundation.config import ExitCriteria
from liftoff.foundation.eval_cases import EvalCase
from service.evalcore.checks import CheckResult

CRITERIA = ExitCriteria(min_accuracy=0.85, p95_latency_ms=1000, max_cost_per_request_usd=0.01, max_error_rate=0.5)
USE_CASE = "fixture-triage"
LONG = "my parcel never arrived and " * 20  # longer than the shortened cell


def cases(n: int) -> list[EvalCase]:
    return [EvalCase(id=f"case-{i:03d}", variables={"message": f"{LONG}#{i}"}, tags=["language"]) for i in range(n)]


def result(case: EvalCase, status: str, cost: float = 0.0001) -> CaseResult:
    if status == "error":
        answer = Answer(ok=False, error_code="ModelError", error_message=f"the model failed on {case.id}")
        return CaseResult(case.id, case.tags, "error", answer)
    checks = [CheckResult("json_field", status == "pass", "" if status == "pass" else f"category is 'x{case.id}'")]
    answer = Answer(ok=True, output=f'{{"category": "x{case.id}"}}', latency_ms=10 + len(case.id), cost_usd=cost)
    return CaseResult(case.id, case.tags, status, answer, checks)


def run_of(statuses: list[tuple[EvalCase, str]], model: str = "m") -> Run:
    results = [result(c, s) for c, s in statuses]
    return Run(summarize(results, CRITERIA, target="local", model=model, duration_s=1), results)


def evaluated(all_cases, **changes) -> Evaluated:
    values = {
        "use_case": USE_CASE,
        "prompt_id": "triage",
        "version": 1,
        "alias": "live",
        "content_hash": "ab" * 32,
        "model_id": "m",
        "guardrail": None,
        "guardrail_applied": False,
        "target": "local",
        "simulated": True,
        "git_commit": "c0ffee",
        "eval_set_hash": eval_set_hash(all_cases),
        "stage": None,
    }
    return Evaluated(**(values | changes))


def test_every_failing_and_erroring_case_is_listed_with_inputs_output_and_why(tmp_path):
    # Given a run where 73 cases fail and 4 error, more than the old page's 50
    given = cases(100)
    statuses = [(c, "fail" if i < 73 else "error" if i < 77 else "pass") for i, c in enumerate(given)]
    # When the report is written
    out = write_report(
        USE_CASE,
        [run_of(statuses)],
        CRITERIA,
        simulated=True,
        evaluated=evaluated(given),
        directory=tmp_path,
        cases=given,
    )
    page = (out / "report.html").read_text()
    # Then every one of them is on the page, not folded away, under headings that count them
    assert "Cases not passing (77 of 100)" in page and "Failed (a wrong answer): 73" in page
    assert "Errors (no answer): 4" in page
    for i in range(77):
        row = re.search(rf"<tr id='case-case-{i:03d}'>.*?</tr>", page, re.S)
        assert row, f"case-{i:03d} is not listed"
        # with its input (shortened, the full text in a <details>), its output and why it did not pass
        assert f"{LONG}#{i}" in row.group() and "<details>" in row.group()
        why = f"category is &#x27;xcase-{i:03d}&#x27;" if i < 73 else f"ModelError: the model failed on case-{i:03d}"
        assert why in row.group()
        if i < 73:
            assert f"xcase-{i:03d}" in row.group()  # the output
    assert "case-080" not in page.split("Cases not passing")[1]  # a passing case is not listed
    # and report.md lists them all too, results.jsonl keeps each case's inputs
    md = (out / "report.md").read_text()
    assert all(f"`case-{i:03d}`" in md for i in range(77))
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert rows[5]["variables"] == {"message": f"{LONG}#5"}


def write_run(root, stamp: datetime, statuses: list[tuple[EvalCase, str]], **changes):
    """A report under root/<use_case>/<time>/, as `liftoff eval run` writes it."""
    folder = root / USE_CASE / stamp.strftime("%Y%m%dT%H%M%SZ")
    given = [c for c, _ in statuses]
    out = write_report(
        USE_CASE,
        [run_of(statuses)],
        CRITERIA,
        simulated=True,
        evaluated=evaluated(given, **changes),
        directory=folder,
        cases=given,
        previous=report.previous_report(USE_CASE, changes.get("prompt_id", "triage"), root=root),
    )
    document = json.loads((out / "report.json").read_text())
    document["created_at"] = stamp.isoformat()  # the runs' own times, not the test's
    (out / "report.json").write_text(json.dumps(document))
    return out


def test_the_report_compares_with_the_previous_run_of_the_same_prompt(tmp_path):
    # Given an earlier run of triage (a, b pass; c fails; d errors), then a run of another prompt id
    a, b, c, d, e = (EvalCase(id=x, variables={"message": x}, tags=["t"]) for x in "abcde")
    t0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
    first = write_run(tmp_path, t0, [(a, "pass"), (b, "pass"), (c, "fail"), (d, "error")])
    write_run(tmp_path, t0 + timedelta(hours=1), [(a, "pass")], prompt_id="other")
    # When triage v2 runs on another model: b now fails, c now passes, d is gone and e is new
    out = write_run(
        tmp_path,
        t0 + timedelta(hours=2),
        [(a, "pass"), (b, "fail"), (c, "pass"), (e, "pass")],
        version=2,
        model_id="m2",
    )
    previous = json.loads((out / "report.json").read_text())["previous"]
    # Then report.json names the previous run of the same prompt, what changed, and the cases that flipped
    assert previous["path"] == str(first / "report.json")
    assert previous["evaluated_changes"]["version"] == [1, 2]
    assert previous["evaluated_changes"]["model_id"] == ["m", "m2"]
    (run,) = previous["runs"]
    assert run["flips"] == {"fail -> pass": ["c"], "pass -> fail": ["b"]}
    assert (run["new_cases"], run["removed_cases"]) == (["e"], ["d"])
    accuracy = next(x for x in run["criteria"] if x["name"] == "accuracy")
    assert (accuracy["before_text"], accuracy["now_text"]) == ("66.7%", "75.0%")
    # and report.md and report.html say the same
    for name in ("report.md", "report.html"):
        text = (out / name).read_text()
        assert "Since the previous run" in text
        assert "accuracy: 66.7% -> 75.0%" in text or "<td>accuracy</td><td>66.7%</td><td>75.0%</td>" in text
        assert re.search(r"pass -(>|&gt;) fail \(1\)", text) and re.search(r"fail -(>|&gt;) pass \(1\)", text)
        assert "version 1 -" in text and "model_id m -" in text
        assert re.search(r"new( cases)? \(1\)", text) and re.search(r"removed( cases)? \(1\)", text)


def test_no_previous_run_means_no_comparison(tmp_path):
    a = EvalCase(id="a", variables={"message": "a"}, tags=["t"])
    out = write_run(tmp_path, datetime(2026, 12, 1, tzinfo=UTC), [(a, "pass")])
    assert json.loads((out / "report.json").read_text())["previous"] is None
    assert "Since the previous run" not in (out / "report.html").read_text()


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the charts draw, kept open to measure."""
    drawn = []
    monkeypatch.setattr(report, "svg", lambda fig: drawn.append(fig) or "<svg></svg>")
    yield drawn
    plt.close("all")


def test_accuracy_labels_never_sit_on_the_threshold_line_or_a_bar_and_are_not_clipped(figures):
    # Given tags at 100 %, just under the threshold (84 % vs 85 %), and at 0 %
    given = {"clean": (25, 25), "language": (21, 25), "markup": (0, 4)}
    run = run_of([(c, "pass") for c in cases(1)])
    summary = run.summary.__class__(**{**run.summary.__dict__, "accuracy_by_tag": given})
    # When the chart is drawn
    accuracy_by_tag_chart(summary, CRITERIA.min_accuracy)
    (fig,) = figures
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    line_x = ax.transData.transform((CRITERIA.min_accuracy, 0))[0]
    full_x = ax.transData.transform((1.0, 0))[0]
    right_x = ax.transData.transform((ax.get_xlim()[1], 0))[0]
    labels = [t for t in ax.texts if "%" in t.get_text()]
    assert len(labels) == 3
    for label in labels:
        box = label.get_window_extent(renderer)
        # Then each label starts right of 100 % (so right of every bar and of the line) and ends inside the axes
        assert box.x0 > full_x > line_x, label.get_text()
        assert box.x1 <= right_x, label.get_text()
    assert ax.get_xlim()[1] >= 1.1


def test_a_cost_that_is_the_same_for_every_case_is_a_sentence_not_a_histogram(figures):
    # Given 40 answered cases that all cost the same
    fragment = distribution_chart(
        [0.000123] * 40, label="cost per request (USD)", unit="USD", limit=0.01, marks={"average": 0.000123}
    )
    # Then the report says it in words, with the value and the criterion, and draws nothing
    assert "<svg" not in fragment and not figures
    assert "40 answered cases" in fragment and "0.000123 USD" in fragment and "0.01 USD" in fragment


def test_a_few_distinct_costs_get_one_bar_each(figures):
    # Given 30 cases with three distinct costs
    values = [0.0001] * 20 + [0.0002] * 7 + [0.0005] * 3
    fragment = distribution_chart(values, label="cost per request (USD)", unit="USD", limit=0.01, marks={})
    # Then one bar per value, each labelled with its value and its count
    assert fragment.startswith("<figure>")
    (fig,) = figures
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.0001", "0.0002", "0.0005"]
    assert sorted(round(p.get_height()) for p in ax.patches) == [3, 7, 20]
    assert {t.get_text() for t in ax.texts} == {"20", "7", "3"}
