"""`make bench` cannot rot: its quick mode runs every section of every benchmark (seconds of work each)
and each writes its figures. No timing is asserted: the figures are the full run's business."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from benchmarks.figures import RESULTS
from benchmarks.report import CHECKOUT
from liftoff import PROJECT_ENV
from liftoff.foundation.memory import MEASURED

SECTIONS = {
    *("prompt_cache", "observability_overhead", "output_contract", "redaction"),
    *("machine", "warm", "cold_start", "memory", "synth", "local_api", "local_load"),
}


def leaf_paths(data, prefix=()) -> set[tuple[str, ...]]:
    if isinstance(data, dict):
        return {path for key, value in data.items() for path in leaf_paths(value, (*prefix, key))}
    return {prefix}


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """`python -m benchmarks.run --quick` from a project whose use cases are all gone (as a team's clone may
    be): the bench builds the fixture project it measures, so its local mode is not the one the other
    end-to-end tests share either."""
    tmp = tmp_path_factory.mktemp("bench")
    (tmp / "clone" / "usecases").mkdir(parents=True)
    shutil.copy(CHECKOUT / "cdk.json", tmp / "clone" / "cdk.json")
    report = tmp / "bench.json"
    memory_before = MEASURED.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--report", str(report)],
        cwd=CHECKOUT,
        env={**os.environ, PROJECT_ENV: str(tmp / "clone")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert MEASURED.read_bytes() == memory_before  # a quick run measures nothing the stack reads
    return json.loads(report.read_text())


def test_every_section_of_make_bench_runs_and_writes_its_figures(quick_report):
    # Given the quick mode of make bench / Then every section completed and wrote figures
    assert set(quick_report) == SECTIONS
    for name in SECTIONS - {"machine"}:
        assert isinstance(quick_report[name], dict) and quick_report[name], name
    cold = quick_report["cold_start"]
    # the three cold-start figures and cold start to first answer, in one run
    assert {"import_ms_no_bytecode", "import_ms_as_shipped", "import_ms_naive_powertools"} <= set(cold)
    assert set(cold["first_answer"]) == {"no bytecode", "as shipped"}
    phases = {"import_ms", "settings_ms", "clients_ms", "feedback_key_ms", "first_request_ms", "first_answer_ms"}
    assert all(set(figures) == phases for figures in cold["first_answer"].values())
    assert quick_report["warm"]["dynamodb_calls_per_request"]["total"] == 1.0


def test_the_recorded_results_are_from_this_bench(quick_report):
    # benchmarks/results.json (what the docs quote) has every figure the bench writes today: a section
    # added, renamed or dropped since the last full run fails here until `make bench` records it again
    assert leaf_paths(quick_report) <= leaf_paths(json.loads(RESULTS.read_text()))
