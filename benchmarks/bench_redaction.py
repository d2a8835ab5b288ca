"""Benchmark: PII redaction (service/logic/redact.py) on long text (figures; exits 1 if it is not linear).

- Time to redact 10,000 and 60,000 characters of a realistic document (prose with numbers, dates, an
  e-mail, a phone number and an IBAN every few hundred characters) and of adversarial text (one long
  run of e-mail characters, the shape that made the previous pattern quadratic): best of 5 runs each.
  The 60k / 10k ratio is ~6 for linear work; above LINEAR_LIMIT the benchmark fails.
- Import time of the libraries the redactor loads on first use (phonenumbers, python-stdnum), after
  the handlers' own imports, in a fresh interpreter.
Writes the `redaction` section of reports/bench.json and prints a table (the quick mode measures nothing,
so it fails on nothing).
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.report import BenchRun, bench_run
from service.logic.redact import Redactor

LINEAR_LIMIT = 12.0  # 6x the text; quadratic work would be ~36x
SENTENCE = (
    "On 2026-11-25 the customer (order 118233, version 10.0.19045) wrote from jörg@müller.de and asked "
    "us to call +44 7911 123456 or to refund DE89 3704 0044 0532 0130 00; the invoice total was 1,299.00 "
    "EUR and the meeting is at 12:30:45. "
)


def best_of(redact: Redactor, text: str, runs: int = 5) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        redact(text)
        timings.append(time.perf_counter() - started)
    return min(timings)


def import_ms() -> float:
    code = (
        "import time, service.handlers.invoke, service.handlers.feedback\n"
        "t = time.perf_counter(); import phonenumbers, stdnum.iban, stdnum.us.ssn\n"
        "print((time.perf_counter() - t) * 1000)"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)  # noqa: S603 - our own code
    return float(done.stdout)


def main(run: BenchRun) -> int:
    runs = run.size(5, 1)
    redact = Redactor()
    redact(SENTENCE)  # the libraries' first import and metadata load, measured apart
    rows = {}
    for name, unit in (("document", SENTENCE), ("adversarial", "a")):
        small, large = ((unit * (n // len(unit) + 1))[:n] for n in (10_000, 60_000))
        t10, t60 = best_of(redact, small, runs), best_of(redact, large, runs)
        rows[name] = {"10k_ms": round(t10 * 1000, 2), "60k_ms": round(t60 * 1000, 2), "ratio": round(t60 / t10, 2)}
    rows["first_use_import_ms"] = round(min(import_ms() for _ in range(run.size(3, 1))), 1)
    run.write("redaction", rows)
    print("PII redaction (best of 5)        10k chars    60k chars   60k/10k")
    for name in ("document", "adversarial"):
        r = rows[name]
        print(f"  {name:<30} {r['10k_ms']:>8.2f} ms {r['60k_ms']:>9.2f} ms {r['ratio']:>8.2f}")
    print(f"  phonenumbers + stdnum import on first use: {rows['first_use_import_ms']} ms")
    worst = max(rows[n]["ratio"] for n in ("document", "adversarial"))
    if worst > LINEAR_LIMIT and not run.quick:
        print(f"FAIL: redaction grew {worst:.1f}x for 6x the text (limit {LINEAR_LIMIT}): not linear")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(bench_run(__doc__)))
