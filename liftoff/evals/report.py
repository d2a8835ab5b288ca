"""Eval reports: `reports/<use_case>/<timestamp>/` with report.json, results.jsonl, report.md and a
self-contained report.html (charts are inline SVG drawn by matplotlib: no script, no CDN, opens
offline)."""

from __future__ import annotations

import html
import io
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
mpl.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, selectable
import matplotlib.pyplot as plt  # noqa: E402

from liftoff import REPO_ROOT  # noqa: E402
from liftoff.config import ExitCriteria  # noqa: E402
from liftoff.evals.cases import STANDARD_TAGS  # noqa: E402
from liftoff.evals.evidence import Evaluated  # noqa: E402
from liftoff.evals.runner import LATENCY_WARM, Criterion, Run, RunSummary, cheapest_passing  # noqa: E402

REPORTS_DIR = REPO_ROOT / "reports"
SIMULATOR_NOTE = (
    "Answers came from the local Bedrock simulator (a keyword rule): accuracy here measures the "
    "pipeline and the eval set, not any model's quality."
)
GUARDRAIL_NOT_APPLIED = "GUARDRAIL NOT APPLIED"
PASS_COLOR, FAIL_COLOR, ACCENT = "#1a7f37", "#cf222e", "#0969da"


def report_dir(use_case: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return REPORTS_DIR / use_case / stamp


def fmt(criterion: Criterion, value: float | None) -> str:
    if value is None:
        return "n/a"
    if criterion.unit == "ratio":
        return f"{value:.1%}"
    if criterion.unit == "ms":
        return f"{value:.0f} ms"
    return f"${value:.6f}"


def evaluated_text(evaluated: dict) -> list[str]:
    """What a run evaluated, in lines a person reads (terminal, report.md, report.html)."""
    e = evaluated
    if e["version"] is None:
        what = f"{e['prompt_id']} working copy (unpublished)"
    else:
        what = f"{e['prompt_id']} v{e['version']}" + (f" (alias {e['alias']})" if e["alias"] else "")
    digest = f"sha256:{e['content_hash']}" if e["content_hash"] else "content hash unknown (no registry: pass --stage)"
    source = "the Bedrock simulator" if e["simulated"] else "a real model"
    lines = [
        f"evaluated: {what}, {digest}",
        f"model: {e['model_id']} via target {e['target']}"
        + (f" (stage {e['stage']})" if e["stage"] else "")
        + f", answers from {source}",
    ]
    if e["guardrail_applied"]:
        g = e["guardrail"]
        lines.append(f"guardrail: {g['id']} version {g['version']}" if g else "guardrail: the deployed stage's")
    elif e["guardrail"] is None and e["target"] != "bedrock":
        lines.append("guardrail: none configured for this use case")
    else:
        lines.append(
            f"{GUARDRAIL_NOT_APPLIED}: these answers skipped the use case's guardrail (no deployed guardrail "
            "to attach: pass --stage); its blocks and its cost are missing from this report"
        )
    lines.append(
        f"git commit: {e['git_commit'] or 'unknown'}; eval set sha256:{e['eval_set_hash'][:12]}"
        + (
            " (a sample of the eval set: --limit, --tag or --file; a deployed stage's gate needs the whole set)"
            if e.get("sample")
            else ""
        )
    )
    return lines


def latency_text(summary: RunSummary) -> str:
    """Which requests the p95 criterion judged."""
    s = summary
    if s.latency_basis == LATENCY_WARM:
        took = f", {min(s.cold_start_ms):.0f}-{max(s.cold_start_ms):.0f} ms each" if s.cold_start_ms else ""
        return (
            f"p95 latency judged on warm requests (local mode): {len(s.cold_start_ms)} cold start(s) set aside "
            f"({s.environments_warmed} warming the environments first, {s.cold_starts_excluded} during the run"
            f"{took}: this machine starting Python, not Lambda). p95 of every request of the run: "
            f"{_ms(s.latency_p95_all_ms)}."
        )
    return f"p95 latency over every request, cold starts included ({_ms(s.latency_p95_all_ms)})."


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def summary_dict(summary: RunSummary) -> dict:
    data = asdict(summary)
    data["criteria"] = [
        {**asdict(c), "passed": c.passed, "measured_text": fmt(c, c.measured), "threshold_text": fmt(c, c.threshold)}
        for c in summary.criteria
    ]
    data["verdict"] = "PASS" if summary.verdict else "FAIL"
    return data


# -- charts --------------------------------------------------------------------------------------


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def tag_order(tag: str) -> tuple[int, str]:
    """The standard tags first, then the use case's own, then the generator's `aug:*`."""
    if tag in STANDARD_TAGS:
        return 0, f"{STANDARD_TAGS.index(tag)}"
    return (2 if tag.startswith("aug:") else 1), tag


def accuracy_by_tag_chart(summary: RunSummary, min_accuracy: float) -> str:
    tags = sorted(summary.accuracy_by_tag, key=tag_order)
    counts = [summary.accuracy_by_tag[t] for t in tags]
    values = [p / n if n else 0 for p, n in counts]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(tags) + 1.2))
    colors = [PASS_COLOR if v >= min_accuracy else FAIL_COLOR for v in values]
    ax.barh(tags, values, color=colors)
    for y, (v, (p, n)) in enumerate(zip(values, counts, strict=True)):
        ax.text(min(v + 0.01, 0.86), y, f"{v:.0%} ({p}/{n})", va="center", fontsize=8)
    ax.set_title("accuracy per tag", fontsize=10)
    ax.axvline(min_accuracy, color="black", linestyle="--", linewidth=1, label=f"min accuracy {min_accuracy:.0%}")
    ax.set_xlim(0, 1.05)
    ax.invert_yaxis()
    ax.set_xlabel("accuracy (pass / scored)")
    ax.legend(loc="lower right", fontsize=8)
    return _svg(fig)


def distribution_chart(values: list[float], *, label: str, unit: str, limit: float, marks: dict[str, float]) -> str:
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.hist(values, bins=min(40, max(5, len(values) // 4)), color=ACCENT, alpha=0.75)
    for (name, value), style in zip(marks.items(), (":", "-."), strict=False):
        ax.axvline(value, color="black", linestyle=style, linewidth=1, label=f"{name} {value:.3g} {unit}")
    ax.axvline(limit, color=FAIL_COLOR, linestyle="--", linewidth=1.5, label=f"exit criterion {limit:g} {unit}")
    ax.set_title(label, fontsize=10)
    ax.set_xlabel(label)
    ax.set_ylabel("cases")
    ax.legend(fontsize=8)
    return _svg(fig)


def comparison_chart(runs: list[Run], criteria: ExitCriteria, *, x: str) -> str:
    """Accuracy against cost or p95 latency, one point per model, the region that meets both shaded."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if x == "cost":
        xs = [r.summary.cost_avg_usd or 0 for r in runs]
        limit, label = criteria.max_cost_per_request_usd, "cost per request (USD)"
    else:
        xs = [r.summary.latency_p95_ms or 0 for r in runs]
        limit, label = criteria.p95_latency_ms, "p95 latency (ms)"
    ys = [r.summary.accuracy or 0 for r in runs]
    right = max([*xs, limit]) * 1.15
    ax.axvspan(0, limit, ymin=criteria.min_accuracy / 1.05, ymax=1, color=PASS_COLOR, alpha=0.12)
    ax.axvline(limit, color=FAIL_COLOR, linestyle="--", linewidth=1)
    ax.axhline(criteria.min_accuracy, color=FAIL_COLOR, linestyle="--", linewidth=1)
    for index, (run, xv, yv) in enumerate(zip(runs, xs, ys, strict=True)):
        color = PASS_COLOR if run.summary.verdict else FAIL_COLOR
        ax.scatter([xv], [yv], color=color, s=60, zorder=3)
        # labels stacked, so models with (nearly) the same figures stay readable
        ax.annotate(
            run.summary.model,
            (xv, yv),
            textcoords="offset points",
            xytext=(8, -14 - 11 * index),
            fontsize=8,
            arrowprops={"arrowstyle": "-", "color": "#8c959f", "linewidth": 0.6},
        )
    ax.set_xlim(0, right)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(label)
    ax.set_ylabel("accuracy")
    ax.set_title("shaded: meets both exit criteria", fontsize=9)
    return _svg(fig)


# -- documents -----------------------------------------------------------------------------------


def _verdict_rows(summary: RunSummary) -> list[tuple[str, str, str, str]]:
    return [
        (c.name, f"{c.comparison} {fmt(c, c.threshold)}", fmt(c, c.measured), "PASS" if c.passed else "FAIL")
        for c in summary.criteria
    ]


def markdown(use_case: str, runs: list[Run], *, simulated: bool, created: str, evaluated: dict) -> str:
    lines = [f"# Eval report: {use_case}", "", f"Created {created}.", ""]
    lines += [
        f"> **{line}**" if line.startswith(GUARDRAIL_NOT_APPLIED) else f"- {line}" for line in evaluated_text(evaluated)
    ]
    lines.append("")
    if simulated:
        lines += [f"> {SIMULATOR_NOTE}", ""]
    for run in runs:
        s = run.summary
        lines += [
            f"## {s.model} via {s.target}: {'PASS' if s.verdict else 'FAIL'}",
            "",
            f"{s.cases} cases: {s.passed} pass, {s.failed} fail, {s.errors} error; {s.duration_s:.1f} s.",
            "",
            "| criterion | required | measured | verdict |",
            "|---|---|---|---|",
            *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _verdict_rows(s)],
            "",
            latency_text(s),
            "",
            "| tag | accuracy | pass / scored |",
            "|---|---|---|",
            *[f"| {t} | {p / n:.1%} | {p} / {n} |" for t, (p, n) in s.accuracy_by_tag.items() if n],
            "",
        ]
        if s.invalid_output_by_tag:
            lines += [
                "| tag | invalid output rate | invalid / scored |",
                "|---|---|---|",
                *[f"| {t} | {i / n:.1%} | {i} / {n} |" for t, (i, n) in s.invalid_output_by_tag.items()],
                "",
            ]
        wrong = [r for r in run.results if r.status != "pass"][:30]
        if wrong:
            lines += ["Not passing (first 30):", ""]
            for r in wrong:
                why = r.answer.error_code if r.status == "error" else "; ".join(c.detail for c in r.failed_checks)
                lines.append(f"- `{r.id}` {r.status}: {why}")
            lines.append("")
    if len(runs) > 1:
        best = cheapest_passing(runs)
        lines += [
            "## Comparison",
            "",
            "| model | accuracy | p95 ms | $/request | errors | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for r in runs:
            s = r.summary
            lines.append(
                f"| {s.model} | {s.accuracy or 0:.1%} | {s.latency_p95_ms or 0:.0f} | {s.cost_avg_usd or 0:.6f} | "
                f"{s.error_rate:.1%} | {'PASS' if s.verdict else 'FAIL'} |"
            )
        lines += ["", f"Cheapest that meets every criterion: **{best.summary.model if best else 'none'}**.", ""]
    return "\n".join(lines)


def html_report(
    use_case: str, runs: list[Run], criteria: ExitCriteria, *, simulated: bool, created: str, evaluated: dict
) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Eval report: {esc(use_case)}</title>",
        "<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328}"
        "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left}"
        ".PASS{color:#1a7f37;font-weight:600}.FAIL{color:#cf222e;font-weight:600}.note{background:#fff8c5;"
        "padding:.6em 1em;border-left:4px solid #d4a72c}.charts{display:flex;flex-wrap:wrap;gap:1em}"
        "svg{max-width:100%;height:auto}code{background:#f6f8fa;padding:0 3px}</style></head><body>",
        f"<h1>Eval report: {esc(use_case)}</h1><p>Created {esc(created)}.</p>",
        "<ul>"
        + "".join(
            f"<li class='note FAIL'>{esc(line)}</li>"
            if line.startswith(GUARDRAIL_NOT_APPLIED)
            else f"<li>{esc(line)}</li>"
            for line in evaluated_text(evaluated)
        )
        + "</ul>",
    ]
    if simulated:
        parts.append(f"<p class='note'>{esc(SIMULATOR_NOTE)}</p>")
    for run in runs:
        s = run.summary
        verdict = "PASS" if s.verdict else "FAIL"
        parts.append(
            f"<h2>{esc(s.model)} via {esc(s.target)}: <span class='{verdict}'>{verdict}</span></h2>"
            f"<p>{s.cases} cases: {s.passed} pass, {s.failed} fail, {s.errors} error; {s.duration_s:.1f} s; "
            f"total cost ${s.cost_total_usd:.6f}.</p>"
            "<table><tr><th>criterion</th><th>required</th><th>measured</th><th>verdict</th></tr>"
            + "".join(
                f"<tr><td>{esc(a)}</td><td>{esc(b)}</td><td>{esc(c)}</td><td class='{d}'>{d}</td></tr>"
                for a, b, c, d in _verdict_rows(s)
            )
            + "</table>"
            + f"<p>{esc(latency_text(s))}</p>"
        )
        answered = [r.answer for r in run.results if r.answer.ok]
        charts = [accuracy_by_tag_chart(s, criteria.min_accuracy)] if s.accuracy_by_tag else []
        if answered:
            charts.append(
                distribution_chart(
                    [a.latency_ms for a in answered],
                    label="latency per case (ms)",
                    unit="ms",
                    limit=criteria.p95_latency_ms,
                    marks={"p50": s.latency_p50_ms or 0, "p95": s.latency_p95_ms or 0},
                )
            )
            charts.append(
                distribution_chart(
                    [a.cost_usd for a in answered],
                    label="cost per request (USD)",
                    unit="USD",
                    limit=criteria.max_cost_per_request_usd,
                    marks={"average": s.cost_avg_usd or 0, "p95": s.cost_p95_usd or 0},
                )
            )
        parts.append("<div class='charts'>" + "".join(f"<figure>{c}</figure>" for c in charts) + "</div>")
        wrong = [r for r in run.results if r.status != "pass"][:50]
        if wrong:
            parts.append(
                "<details><summary>Cases not passing (first 50)</summary><table>"
                "<tr><th>case</th><th>status</th><th>why</th><th>output</th></tr>"
            )
            for r in wrong:
                why = (
                    f"{r.answer.error_code}: {r.answer.error_message}"
                    if r.status == "error"
                    else "; ".join(c.detail for c in r.failed_checks)
                )
                parts.append(
                    f"<tr><td><code>{esc(r.id)}</code></td><td>{r.status}</td><td>{esc(why)}</td>"
                    f"<td><code>{esc(r.answer.output[:160])}</code></td></tr>"
                )
            parts.append("</table></details>")
    if len(runs) > 1:
        best = cheapest_passing(runs)
        parts.append("<h2>Model comparison</h2><div class='charts'>")
        parts.append(f"<figure>{comparison_chart(runs, criteria, x='cost')}</figure>")
        parts.append(f"<figure>{comparison_chart(runs, criteria, x='latency')}</figure></div>")
        parts.append(
            f"<p>Cheapest model that meets every criterion: <b>{esc(best.summary.model) if best else 'none'}</b>.</p>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def write_report(
    use_case: str,
    runs: list[Run],
    criteria: ExitCriteria,
    *,
    simulated: bool,
    evaluated: Evaluated,
    directory: Path | None = None,
) -> Path:
    now = datetime.now(UTC)
    out = directory or report_dir(use_case, now)
    out.mkdir(parents=True, exist_ok=True)
    created = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    best = cheapest_passing(runs)
    passed = bool(best) if len(runs) > 1 else runs[0].summary.verdict
    document = {
        "use_case": use_case,
        "created": created,
        "created_at": now.isoformat(timespec="milliseconds"),
        "simulated": simulated,
        "evaluated": evaluated.to_dict(),
        "exit_criteria": criteria.model_dump(),
        "runs": [summary_dict(r.summary) for r in runs],
        "passed": passed,
        "verdict": "PASS" if passed else "FAIL",
        "cheapest_passing_model": best.summary.model if best else None,
    }
    (out / "report.json").write_text(json.dumps(document, indent=2))
    with (out / "results.jsonl").open("w") as results:
        for run in runs:
            for r in run.results:
                row = {"model": run.summary.model, "id": r.id, "status": r.status, "tags": r.tags, **asdict(r.answer)}
                row["checks"] = [asdict(c) for c in r.checks]
                results.write(json.dumps(row, ensure_ascii=False) + "\n")
    what = evaluated.to_dict()
    (out / "report.md").write_text(markdown(use_case, runs, simulated=simulated, created=created, evaluated=what))
    (out / "report.html").write_text(
        html_report(use_case, runs, criteria, simulated=simulated, created=created, evaluated=what)
    )
    return out


def latest_report(use_case: str) -> Path | None:
    directory = REPORTS_DIR / use_case
    found = sorted(p for p in directory.glob("*/report.json")) if directory.is_dir() else []
    return found[-1] if found else None
