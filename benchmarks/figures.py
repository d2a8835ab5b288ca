"""The figures the README and docs/benchmarks.md quote, rendered from benchmarks/results.json (what the
last full `make bench` measured). Each block sits between `<!-- figures:NAME -->` and `<!-- /figures -->`;
`make bench` rewrites it and tests/unit/test_bench_figures.py fails when it differs from the JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from benchmarks.report import CHECKOUT

RESULTS = CHECKOUT / "benchmarks" / "results.json"
DOCS = {"readme": CHECKOUT / "README.md", "all": CHECKOUT / "docs" / "benchmarks.md"}


def _x(value: float) -> str:
    return f"x{value:.2f}"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def _mb(kb: float) -> str:
    return f"{kb / 1024:,.1f} MB"


def _us(value: float) -> str:
    return f"{value:,.1f} us"


def _plain(value) -> str:
    return f"{value:,}" if isinstance(value, int | float) else str(value)


# (what, path in the report, how it is written, target); "readme" rows are the README's short table
Row = tuple[str, tuple[str, ...], Callable, str]
COLD = ("cold_start",)
FIRST = ("cold_start", "first_answer")
ROWS: dict[str, list[Row]] = {
    "cold start": [
        ("import of the handler as Lambda loads the package, as shipped vs without bytecode", (*COLD, "shipped_vs_no_bytecode"), _x, "<= x0.40"),
        ("... as shipped vs Powertools imported naively from the same package", (*COLD, "shipped_vs_naive_powertools"), _x, "<= x0.60"),
        ("import without bytecode (the package before it had any)", (*COLD, "import_ms_no_bytecode"), _ms, ""),
        ("import as shipped", (*COLD, "import_ms_as_shipped"), _ms, ""),
        ("import of Powertools naively, as shipped", (*COLD, "import_ms_naive_powertools"), _ms, ""),
        ("cold start to first answer without bytecode", (*FIRST, "no bytecode", "first_answer_ms"), _ms, ""),
        ("cold start to first answer as shipped", (*FIRST, "as shipped", "first_answer_ms"), _ms, ""),
        ("... of which import / clients / feedback key / first request", (*FIRST, "as shipped"), lambda p: " / ".join(_ms(p[k]) for k in ("import_ms", "clients_ms", "feedback_key_ms", "first_request_ms")), ""),
        ("deployment package, zipped (Lambda: 50 MB for a direct upload)", (*COLD, "package_kb"), _mb, "< 50 MB"),
        ("deployment package, unzipped (Lambda: 250 MB)", (*COLD, "package_unzipped_kb"), _mb, "< 250 MB"),
        ("... of which bytecode", (*COLD, "bytecode_unzipped_kb"), _mb, ""),
    ],
    "request path": [
        ("DynamoDB calls per request, steady state", ("warm", "dynamodb_calls_per_request", "total"), _plain, "<= 1"),
        ("warm request vs a bare boto3 handler making the same Converse call (spend counter in-process)", ("warm", "ratio_to_bare", "handler, spend counter in-process"), _x, "<= x1.15"),
        ("... with the spend counter on moto over HTTP", ("warm", "ratio_to_bare", "handler (full)"), _x, ""),
        ("peak RSS of the handler (package as shipped)", ("memory", "peak_rss_mb"), lambda v: f"{v} MB", ""),
        ("the invoke function's memory, chosen from it (liftoff/foundation/memory.py)", ("memory", "memory_mb"), lambda v: f"{v} MB", ">= 50 % headroom"),
        ("warm `lambda_handler`, metrics + log line on vs off (fake model)", ("observability_overhead", "added_us", "observed"), lambda v: f"+{_us(v)}", ""),
        ("prompt registry reads per request, steady state", ("prompt_cache", "reads_per_request"), _plain, "<= 0.01"),
        ("prompt resolution on a cache hit, median", ("prompt_cache", "cache_hit_median_us"), _us, "< 50 us"),
        ("output contract: validate one answer of the benchmark's triage use case, valid / invalid", ("output_contract",), lambda v: f"{_us(v['jsonschema_valid_us'])} / {_us(v['jsonschema_invalid_us'])}", ""),
        ("PII redaction of 60,000 characters, a document / adversarial (60k vs 10k: linear is x6)", ("redaction",), lambda v: f"{v['document']['60k_ms']} ms / {v['adversarial']['60k_ms']} ms (x{v['document']['ratio']} / x{v['adversarial']['ratio']})", "<= x12"),
    ],
    "local mode and synth": [
        ("`cdk synth` with cdk-nag, 1 / 5 use cases", ("synth",), lambda v: f"{v['synth_s_1_use_cases']} s / {v['synth_s_5_use_cases']} s", ""),
        ("local API, zero model latency, concurrency 1 / 8 / 32", ("local_api",), lambda v: " / ".join(f"{v[f'rps_concurrency_{c}']} req/s" for c in (1, 8, 32)), ""),
        ("`liftoff load`, 10 users, 200 ms model: p50 / p95", ("local_load", "users_10"), lambda v: f"{_ms(v['p50_ms'])} / {_ms(v['p95_ms'])}", "p50 within 1.5x of 200 ms"),
        ("... cold starts of local mode's environments (median)", ("local_load", "users_10"), lambda v: f"{v['cold_starts']} ({_ms(v['cold_start_median_ms'])})", ""),
    ],
}  # fmt: skip
README_ROWS = (
    ("cold start", 0),
    ("cold start", 1),
    ("cold start", 6),
    ("request path", 0),
    ("request path", 1),
    ("request path", 4),
    ("local mode and synth", 2),
)


def value_at(results: dict, path: tuple[str, ...]):
    for key in path:
        results = results[key]
    return results


def _row(results: dict, row: Row) -> str:
    what, path, written, target = row
    return f"| {what} | {written(value_at(results, path))} | {target} |"


def render(results: dict, block: str) -> str:
    """The markdown of block `block` ("readme" or "all")."""
    head = f"Measured by `make bench` on {results['machine']} (`benchmarks/results.json`).\n"
    table = "| figure | measured | target |\n|---|---|---|\n"
    if block == "readme":
        return head + "\n" + table + "\n".join(_row(results, ROWS[group][i]) for group, i in README_ROWS) + "\n"
    parts = [head]
    for group, rows in ROWS.items():
        parts.append(f"\n**{group.capitalize()}**\n\n" + table + "\n".join(_row(results, row) for row in rows) + "\n")
    return "".join(parts)


def blocks(text: str) -> dict[str, str]:
    """{name: content} of the figure blocks in a markdown text."""
    return {m.group(1): m.group(2) for m in re.finditer(r"<!-- figures:(\w+) -->\n(.*?)<!-- /figures -->", text, re.S)}


def update_docs(results: dict) -> list[str]:
    """Rewrite each document's block from `results`; the documents that changed."""
    changed = []
    for block, path in DOCS.items():
        text = path.read_text()
        if block not in blocks(text):
            raise RuntimeError(f"{path}: no `<!-- figures:{block} -->` ... `<!-- /figures -->` block")
        rendered = render(results, block)
        new = re.sub(
            rf"(<!-- figures:{block} -->\n).*?(<!-- /figures -->)",
            lambda m, rendered=rendered: m.group(1) + rendered + m.group(2),
            text,
            flags=re.S,
        )
        if new != text:
            path.write_text(new)
            changed.append(path.relative_to(CHECKOUT).as_posix())
    return changed


def recorded() -> dict:
    return json.loads(RESULTS.read_text())
