"""The invoke function's memory, from measurement: `make bench` measures the handler's peak RSS over
cold and warm requests (benchmarks/bench_scale.py) and writes benchmarks/memory.json; the function gets
the smallest size that leaves at least HEADROOM over it, unless `capacity.memory_mb` says otherwise.

Lambda bills memory x duration, and the function spends most of its duration waiting for the model, so
memory it does not use is paid for on every request. The other side: Lambda gives CPU in proportion to
memory (a full vCPU at 1,769 MB), so a smaller function imports and runs its own code more slowly;
with the model's latency in the hundreds of milliseconds, that is a few percent of a request, and a
use case that wants the faster cold start sets `capacity.memory_mb`.
"""

from __future__ import annotations

import json
import math

from liftoff import INSTALLED_FROM

MEASURED = INSTALLED_FROM / "benchmarks" / "memory.json"
HEADROOM = 1.5  # at least 50 % over the measured peak
STEP_MB = 64  # sizes are offered in 64 MB steps (Lambda accepts any MB from 128 to 10,240)
MIN_MB, MAX_MB = 128, 10_240


def memory_for(peak_rss_mb: float) -> int:
    """The smallest size in STEP_MB steps with HEADROOM over `peak_rss_mb`."""
    return max(MIN_MB, min(MAX_MB, math.ceil(peak_rss_mb * HEADROOM / STEP_MB) * STEP_MB))


def measured() -> dict:
    """benchmarks/memory.json: the peak RSS `make bench` measured and the size chosen from it."""
    try:
        data = json.loads(MEASURED.read_text())
        return {**data, "memory_mb": memory_for(float(data["peak_rss_mb"]))}
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise RuntimeError(f"{MEASURED}: no measured peak RSS ({exc}); run `make bench` to measure it") from exc


def invoke_memory_mb(capacity_memory_mb: int | None) -> int:
    """The invoke function's memory: `capacity.memory_mb` when set, else from the measurement."""
    return capacity_memory_mb or measured()["memory_mb"]
