"""Run `liftoff` commands in-process on one project, for tests that need a project other than the session's:
the project is fixed when liftoff is imported (LIFTOFF_PROJECT), so the tests start this once per project
instead of one process per command.

    LIFTOFF_PROJECT=DIR python -m tests.cli_in_project STEPS.json RESULTS.json

STEPS.json: a list of {"args": [...], "env": {NAME: value or null}, "files": {PATH: text}} (files: written
into the project first, PATH relative to it); RESULTS.json gets, for each step,
{"args", "exit_code", "output", "exception", "seconds"} (exception: an uncaught one, which a command must never leave).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path


def run(steps: list[dict]) -> list[dict]:
    from click.testing import CliRunner

    from liftoff import REPO_ROOT
    from liftoff.cli import main

    results = []
    for step in steps:
        for path, text in (step.get("files") or {}).items():
            (REPO_ROOT / path).write_text(text, encoding="utf-8")
        started = time.perf_counter()
        result = CliRunner().invoke(main, step["args"], env=step.get("env"))
        uncaught = result.exception if not isinstance(result.exception, SystemExit) else None
        results.append(
            {
                "args": step["args"],
                "exit_code": result.exit_code,
                "output": result.output,
                "exception": "".join(traceback.format_exception(uncaught)) if uncaught else None,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    return results


if __name__ == "__main__":
    steps_file, results_file = (Path(arg) for arg in sys.argv[1:3])
    # results go to a file: some commands print through a console bound to the real stdout
    results_file.write_text(json.dumps(run(json.loads(steps_file.read_text()))))
