"""What every benchmark shares: its options (`--quick`, `--report`) and the one report they write,
reports/bench.json, a section per benchmark. `make bench` runs them all (benchmarks/run.py); `make test`
runs them all in quick mode (tests/e2e/test_bench.py), so none can break unnoticed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from liftoff import REPO_ROOT

REPORT = REPO_ROOT / "reports" / "bench.json"


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


def bench_run(description: str | None) -> BenchRun:
    """The options of a benchmark script (its module docstring is its --help)."""
    parser = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few samples per section: checks it runs")
    parser.add_argument("--report", type=Path, default=REPORT, help=f"where to write (default: {REPORT})")
    options = parser.parse_args()
    return BenchRun(quick=options.quick, report=options.report.resolve())
