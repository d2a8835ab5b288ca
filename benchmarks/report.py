"""What every benchmark shares: its options (`--quick`, `--report`), the one report they write,
reports/bench.json in the checkout (a section per benchmark), and the project they measure. `make bench`
runs them all (benchmarks/run.py); `make test` runs them all in quick mode (tests/e2e/test_bench.py), so
none can break unnoticed.

They measure the template's own fixture project (tests/fixtures/project), never the clone's use cases: a
team deletes or renames the shipped ones, and the figures mean the same in every clone. Its triage use case
(USE_CASE) is a copy of the shipped support-triage. benchmarks/run.py builds it in a temporary folder and
runs each script there.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from liftoff import PROJECT_ENV, REPO_ROOT
from liftoff.foundation.usecases import UseCase, load_use_case, use_case_names
from tests.fixtures.project import DEFAULT_USE_CASE

CHECKOUT = Path(__file__).resolve().parents[1]
REPORT = CHECKOUT / "reports" / "bench.json"
USE_CASE = DEFAULT_USE_CASE  # the benchmark's triage use case, in the fixture project
ONE_SCRIPT = f"{PROJECT_ENV}=$(python -m tests.fixtures.project /tmp/bench-project) python -m benchmarks.NAME"


@dataclass(frozen=True)
class BenchRun:
    quick: bool  # seconds of work per section: proves it runs and writes its figures, measures nothing
    report: Path

    def size(self, full: int, quick: int) -> int:
        """How many samples, requests, runs...: `full` in make bench, `quick` in the quick mode."""
        return quick if self.quick else full

    def write(self, section: str, figures: dict) -> None:
        """Put `figures` under `section` in the report (the other sections stay)."""
        data = json.loads(self.report.read_text()) if self.report.exists() else {}
        data[section] = figures
        self.report.parent.mkdir(parents=True, exist_ok=True)
        self.report.write_text(json.dumps(data, indent=2) + "\n")


def bench_run(description: str | None, *, in_fixture_project: bool = True) -> BenchRun:
    """The options of a benchmark script (its module docstring is its --help). A script measures the fixture
    project (`in_fixture_project`) and refuses, saying how, to run anywhere else."""
    parser = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few samples per section: checks it runs")
    parser.add_argument("--report", type=Path, default=REPORT, help=f"where to write (default: {REPORT})")
    options = parser.parse_args()
    if in_fixture_project and USE_CASE not in use_case_names(REPO_ROOT):
        parser.exit(
            2,
            f"{parser.prog}: the benchmarks measure the template's fixture project, not {REPO_ROOT}: run them all "
            f"with `make bench` (python -m benchmarks.run), or one with `{ONE_SCRIPT}`\n",
        )
    return BenchRun(quick=options.quick, report=options.report.resolve())


def bench_use_case() -> UseCase:
    """The benchmark's triage use case, from the fixture project the script runs in."""
    return load_use_case(USE_CASE)
