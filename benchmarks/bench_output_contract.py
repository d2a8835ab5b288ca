"""Benchmark: what validating an answer against the prompt's output schema adds to a request
(figures, not pass/fail).

The function validates with jsonschema (Draft 2020-12, the dialect the prompt files declare), one
validator per schema kept for the environment's life (service.logic.output_contract.problem_with:
json.loads + validation). Compared with Powertools' validation library, fastjsonschema (compiles the
schema to Python; draft 7 at most), on the same answer and schema: the benchmark's triage use case's (benchmarks/report.py).
Writes the `output_contract` section of reports/bench.json and prints medians in microseconds.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time

import fastjsonschema

from benchmarks.report import BenchRun, bench_run, bench_use_case
from service.logic.output_contract import problem_with

SAMPLES = 20_000


def median_us(fn, samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1e6, 2)


def main(run: BenchRun) -> None:
    samples = run.size(SAMPLES, 200)
    schema = bench_use_case().prompts[0].output.schema_
    valid = json.dumps(
        {"category": "billing", "priority": "high", "summary": "Customer was charged twice for one order."}
    )
    invalid = json.dumps({"category": "refunds", "priority": "high", "summary": "Charged twice."})
    assert problem_with(valid, schema)[0] is None and problem_with(invalid, schema)[0] is not None
    draft7 = {k: v for k, v in schema.items() if k != "$schema"}
    compiled = fastjsonschema.compile(draft7)

    def fast(text: str) -> None:
        with contextlib.suppress(fastjsonschema.JsonSchemaException):
            compiled(json.loads(text))

    result = {
        "samples": samples,
        "jsonschema_valid_us": median_us(lambda: problem_with(valid, schema), samples),
        "jsonschema_invalid_us": median_us(lambda: problem_with(invalid, schema), samples),
        "fastjsonschema_valid_us": median_us(lambda: fast(valid), samples),
        "fastjsonschema_invalid_us": median_us(lambda: fast(invalid), samples),
        "json_loads_only_us": median_us(lambda: json.loads(valid), samples),
    }
    run.write("output_contract", result)
    print("output contract: validating one answer of the triage use case (median of", samples, "runs, microseconds)")
    for key, value in result.items():
        if key != "samples":
            print(f"  {key:<28} {value:>8}")


if __name__ == "__main__":
    main(bench_run(__doc__))
