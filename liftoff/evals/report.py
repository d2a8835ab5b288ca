"""Eval reports: `reports/<use_case>/<timestamp>/` with report.json, results.jsonl, report.md and a
self-contained report.html (charts are inline SVG drawn by matplotlib: no script, no CDN, opens
offline)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from liftoff import REPO_ROOT
from liftoff.charts import pyplot, svg
from liftoff.evals.evidence import Evaluated
from liftoff.evals.runner import (
    LATENCY_WARM,
    CaseResult,
    Criterion,
    Run,
    RunSummary,
    cheapest_passing,
)
from liftoff.foundation.config import ExitCriteria
from liftoff.foundation.eval_cases import STANDARD_TAGS, EvalCase

REPORTS_DIR = REPO_ROOT / "reports"
SIMULATOR_NOTE = (
    "Answers came from the local Bedrock simulator (a keyword rule): accuracy here measures the "
    "pipeline and the eval set, not any model's quality."
)
GUARDRAIL_NOT_APPLIED = "GUARDRAIL NOT APPLIED"
PASS_COLOR, FAIL_COLOR, ACCENT = "#1a7f37", "#cf222e", "#0969da"
LABEL_COLUMN = 1.04  # accuracy chart: x (1.0 = 100 %) where the per-tag figures start


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


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%} ({part}/{whole})" if whole else "n/a (0/0)"


RETRIEVAL_COLUMNS = (
    "tag",
    "cases",
    "recall@k",
    "MRR",
    "hallucination rate",
    "answered unanswerable",
    "ungrounded",
    "judged unfaithful",
)


def retrieval_rows(summary: RunSummary) -> list[tuple[str, ...]]:
    """The retrieval figures (RETRIEVAL_COLUMNS), overall first, then per tag; [] for a run without retrieval.
    recall@k and MRR over the cases naming expected sources (how many in brackets); the hallucination rate
    and its parts over the scored cases (ungrounded over the answers the grounding check scored, unfaithful
    over the answers the judge scored)."""
    if summary.retrieval is None:
        return []

    def row(name: str, t) -> tuple[str, ...]:
        return (
            name,
            str(t.cases),
            "n/a (0 cases name sources)" if t.recall is None else f"{t.recall:.1%} ({t.with_sources})",
            "n/a" if t.mrr is None else f"{t.mrr:.3f}",
            _share(t.hallucinated, t.cases),
            _share(t.answered_unanswerable, t.unanswerable),
            _share(t.ungrounded, t.checked),
            _share(t.unfaithful, t.judged) if t.judged else "not judged",
        )

    tags = sorted(summary.retrieval_by_tag, key=tag_order)
    return [row("all", summary.retrieval), *(row(tag, summary.retrieval_by_tag[tag]) for tag in tags)]


def retrieval_note(summary: RunSummary) -> str:
    """What the retrieval table's figures are, in a sentence."""
    t = summary.retrieval
    judged = (
        "answers the judge found unfaithful to their passages"
        if t and t.judged
        else "judged-unfaithful answers are not counted: no judge is configured (suite.yaml `judge`)"
    )
    return (
        "Retrieval: recall@k and MRR over the cases naming expected_sources; the hallucination rate counts each "
        "scored case once that answered an unanswerable question, was found ungrounded by the grounding check "
        f"(blocked or not), or was judged unfaithful; {judged}."
    )


def summary_dict(summary: RunSummary) -> dict:
    data = asdict(summary)
    data["criteria"] = [
        {**asdict(c), "passed": c.passed, "measured_text": fmt(c, c.measured), "threshold_text": fmt(c, c.threshold)}
        for c in summary.criteria
    ]
    data["verdict"] = "PASS" if summary.verdict else "FAIL"
    return data


# -- charts --------------------------------------------------------------------------------------


def tag_order(tag: str) -> tuple[int, str]:
    """The standard tags first, then the use case's own, then the generator's `aug:*`."""
    if tag in STANDARD_TAGS:
        return 0, f"{STANDARD_TAGS.index(tag)}"
    return (2 if tag.startswith("aug:") else 1), tag


def accuracy_by_tag_chart(summary: RunSummary, min_accuracy: float) -> str:
    tags = sorted(summary.accuracy_by_tag, key=tag_order)
    counts = [summary.accuracy_by_tag[t] for t in tags]
    values = [p / n if n else 0 for p, n in counts]
    fig, ax = pyplot().subplots(figsize=(7, 0.3 * len(tags) + 1.4))
    colors = [PASS_COLOR if v >= min_accuracy else FAIL_COLOR for v in values]
    ax.barh(tags, values, color=colors)
    ax.axvline(min_accuracy, color="black", linestyle="--", linewidth=1, label=f"min accuracy {min_accuracy:.0%}")
    # the figures sit in a column right of 100 %: never on a bar's end, the threshold line or the frame
    ax.set_xlim(0, LABEL_COLUMN + 0.3)
    for y, (v, (p, n)) in enumerate(zip(values, counts, strict=True)):
        ax.text(LABEL_COLUMN, y, f"{v:.1%} ({p}/{n})".replace(".0%", "%"), va="center", fontsize=8)
    ax.axvspan(1, LABEL_COLUMN + 0.3, color="white", zorder=0)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0%", "25%", "50%", "75%", "100%"])
    ax.spines[["top", "right"]].set_visible(False)
    ax.invert_yaxis()
    ax.set_xlabel("accuracy (pass / scored)")
    ax.set_title("accuracy per tag", fontsize=10, loc="left")
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), fontsize=8, frameon=False)
    return svg(fig)


FEW_VALUES = 5  # this many distinct values or fewer: one bar per value, not a histogram


def distribution_chart(values: list[float], *, label: str, unit: str, limit: float, marks: dict[str, float]) -> str:
    """An HTML fragment: a histogram, one bar per value when there are only a few, or a sentence for one value."""
    distinct = sorted(set(values))
    if len(distinct) == 1:
        return (
            f"<p class='single'><b>{html.escape(label)}</b>: "
            f"{'the one answered case' if len(values) == 1 else f'all {len(values)} answered cases'}: "
            f"{distinct[0]:.6g} {unit} each (exit criterion {limit:g} {unit}).</p>"
        )
    fig, ax = pyplot().subplots(figsize=(7, 2.8))
    if len(distinct) <= FEW_VALUES:
        counts = [values.count(v) for v in distinct]
        names = [f"{v:.6g}" for v in distinct]
        ax.bar(names, counts, color=ACCENT, alpha=0.75)
        for x, n in enumerate(counts):
            ax.text(x, n, f"{n}", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, max(counts) * 1.2)
        ax.set_title(f"{label}: {len(distinct)} distinct values (exit criterion {limit:g} {unit})", fontsize=10)
        ax.set_xlabel(f"{label}, one bar per value")
    else:
        ax.hist(values, bins=min(40, max(5, len(values) // 4)), color=ACCENT, alpha=0.75)
        for (name, value), style in zip(marks.items(), (":", "-."), strict=False):
            ax.axvline(value, color="black", linestyle=style, linewidth=1, label=f"{name} {value:.3g} {unit}")
        ax.axvline(limit, color=FAIL_COLOR, linestyle="--", linewidth=1.5, label=f"exit criterion {limit:g} {unit}")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(label)
        ax.legend(fontsize=8)
    ax.set_ylabel("cases")
    return f"<figure>{svg(fig)}</figure>"


def comparison_chart(runs: list[Run], criteria: ExitCriteria, *, x: str) -> str:
    """Accuracy against cost or p95 latency, one point per model, the region that meets both shaded."""
    fig, ax = pyplot().subplots(figsize=(6.5, 4))
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
    return svg(fig)


# -- documents -----------------------------------------------------------------------------------


def _verdict_rows(summary: RunSummary) -> list[tuple[str, str, str, str]]:
    return [
        (c.name, f"{c.comparison} {fmt(c, c.threshold)}", fmt(c, c.measured), "PASS" if c.passed else "FAIL")
        for c in summary.criteria
    ]


def markdown(
    use_case: str, runs: list[Run], *, simulated: bool, created: str, evaluated: dict, previous: dict | None = None
) -> str:
    lines = [f"# Eval report: {use_case}", "", f"Created {created}.", ""]
    lines += [
        f"> **{line}**" if line.startswith(GUARDRAIL_NOT_APPLIED) else f"- {line}" for line in evaluated_text(evaluated)
    ]
    lines.append("")
    if simulated:
        lines += [f"> {SIMULATOR_NOTE}", ""]
    if previous:
        lines += ["## Since the previous run", "", *[f"- {line}" for line in comparison_lines(previous)], ""]
        for compared in previous["runs"]:
            lines += [f"{compared['model']}:", "", *[f"- {line}" for line in run_comparison_lines(compared)], ""]
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
        retrieval = retrieval_rows(s)
        if retrieval:
            lines += [
                "| " + " | ".join(RETRIEVAL_COLUMNS) + " |",
                "|---|" + "---:|" * (len(RETRIEVAL_COLUMNS) - 1),
                *["| " + " | ".join(row) + " |" for row in retrieval],
                "",
                retrieval_note(s),
                "",
            ]
        if s.invalid_output_by_tag:
            lines += [
                "| tag | invalid output rate | invalid / scored |",
                "|---|---|---|",
                *[f"| {t} | {i / n:.1%} | {i} / {n} |" for t, (i, n) in s.invalid_output_by_tag.items()],
                "",
            ]
        wrong = [r for r in run.results if r.status != "pass"]
        if wrong:
            lines += [f"Not passing ({len(wrong)}; inputs and outputs in report.html and results.jsonl):", ""]
            for r in wrong:
                lines.append(f"- `{r.id}` {r.status} [{', '.join(r.tags)}]: {'; '.join(why_not_passing(r))}")
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


def why_not_passing(result: CaseResult) -> list[str]:
    """Why a case did not pass: each failed check's detail, or the error's code and message."""
    if result.status == "error":
        a = result.answer
        return [f"{a.error_code}: {a.error_message}" if a.error_message else a.error_code]
    return [f"{c.check}: {c.detail}" for c in result.failed_checks] or ["no check passed"]


SHORT = 160  # characters of an input or output shown before the rest folds into a <details>


def _text_cell(text: str) -> str:
    esc = html.escape
    if len(text) <= SHORT:
        return f"<code>{esc(text)}</code>"
    return f"<details><summary><code>{esc(text[:SHORT])}</code>… ({len(text)} chars)</summary><pre>{esc(text)}</pre></details>"


def _primary_tag(result: CaseResult) -> str:
    return min(result.tags, key=tag_order) if result.tags else "(no tag)"


def not_passing_html(run: Run, variables: dict[str, dict[str, str]]) -> str:
    """Every failing and erroring case, by status then by tag, with its inputs, output and why."""
    esc = html.escape
    wrong = [r for r in run.results if r.status != "pass"]
    if not wrong:
        return "<p>Every case passed.</p>"
    parts = [f"<h3>Cases not passing ({len(wrong)} of {len(run.results)})</h3>"]
    for status, title in (("fail", "Failed (a wrong answer)"), ("error", "Errors (no answer)")):
        rows = [r for r in wrong if r.status == status]
        if not rows:
            continue
        parts.append(f"<h4 class='FAIL'>{title}: {len(rows)}</h4>")
        by_tag: dict[str, list[CaseResult]] = {}
        for r in rows:
            by_tag.setdefault(_primary_tag(r), []).append(r)
        for tag in sorted(by_tag, key=tag_order):
            parts.append(
                f"<h5>{esc(tag)} ({len(by_tag[tag])})</h5><table class='cases'>"
                "<tr><th>case</th><th>tags</th><th>inputs</th><th>output</th><th>why</th></tr>"
            )
            for r in by_tag[tag]:
                inputs = "".join(
                    f"<div><b>{esc(k)}</b>: {_text_cell(v)}</div>" for k, v in variables.get(r.id, {}).items()
                )
                why = "".join(f"<li>{esc(line)}</li>" for line in why_not_passing(r))
                parts.append(
                    f"<tr id='case-{esc(r.id)}'><td><code>{esc(r.id)}</code></td><td>{esc(', '.join(r.tags))}</td>"
                    f"<td>{inputs or '(none)'}</td><td>{_text_cell(r.answer.output) if r.answer.output else '(none)'}</td>"
                    f"<td><ul>{why}</ul></td></tr>"
                )
            parts.append("</table>")
    return "".join(parts)


# -- the previous run of the same use case -------------------------------------------------------

# the fields of `evaluated` a comparison names when they changed
COMPARED = (
    "prompt_id",
    "version",
    "content_hash",
    "model_id",
    "target",
    "stage",
    "simulated",
    "eval_set_hash",
    "git_commit",
)


def previous_report(use_case: str, prompt_id: str, root: Path | None = None) -> Path | None:
    """The newest earlier report.json of the use case (under reports/), one of the same prompt id if there is one."""
    root = root or REPORTS_DIR
    found = []
    for path in (root / use_case).glob("*/report.json") if (root / use_case).is_dir() else []:
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a half-written or hand-edited report: nothing to compare with
        same = (document.get("evaluated") or {}).get("prompt_id") == prompt_id
        found.append((same, str(document.get("created_at", "")), path))
    return max(found)[2] if found else None


def _statuses(folder: Path) -> dict[str, dict[str, str]]:
    """model -> case id -> status, from a report's results.jsonl."""
    out: dict[str, dict[str, str]] = {}
    path = folder / "results.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            row = json.loads(line)
            out.setdefault(row.get("model", ""), {})[row["id"]] = row["status"]
        except (ValueError, KeyError, AttributeError):
            continue  # a line cut short: that case is compared as new
    return out


def compare_with(previous: Path, document: dict, runs: list[Run]) -> dict:
    """What changed since the previous report: evaluated fields, each criterion, and the cases that flipped."""
    before = json.loads(previous.read_text())
    was, now = before.get("evaluated") or {}, document["evaluated"]
    statuses = _statuses(previous.parent)
    old_runs = {r["model"]: r for r in before.get("runs", [])}
    compared = []
    for run in runs:
        s = run.summary
        model = s.model if s.model in old_runs or len(old_runs) != 1 else next(iter(old_runs))
        old = old_runs.get(model, {})
        old_criteria = {c["name"]: c for c in old.get("criteria", [])}
        criteria = [
            {
                "name": c.name,
                "before": old_criteria.get(c.name, {}).get("measured"),
                "now": c.measured,
                "before_text": old_criteria.get(c.name, {}).get("measured_text", "n/a"),
                "now_text": fmt(c, c.measured),
            }
            for c in s.criteria
        ]
        old_status = statuses.get(model, {})
        new_status = {r.id: r.status for r in run.results}
        flips: dict[str, list[str]] = {}
        for cid, status in new_status.items():
            if cid in old_status and old_status[cid] != status:
                flips.setdefault(f"{old_status[cid]} -> {status}", []).append(cid)
        compared.append(
            {
                "model": s.model,
                "previous_model": model if old else None,
                "verdict_before": old.get("verdict"),
                "verdict_now": "PASS" if s.verdict else "FAIL",
                "criteria": criteria,
                "flips": {k: sorted(v) for k, v in sorted(flips.items())},
                "new_cases": sorted(set(new_status) - set(old_status)),
                "removed_cases": sorted(set(old_status) - set(new_status)),
            }
        )
    return {
        "path": str(previous),
        "created": before.get("created"),
        "verdict_before": before.get("verdict"),
        "same_prompt": was.get("prompt_id") == now["prompt_id"],
        "evaluated_changes": {k: [was.get(k), now.get(k)] for k in COMPARED if was.get(k) != now.get(k)},
        "runs": compared,
    }


def _evaluated_value(key: str, value) -> str:
    if value is None:
        return "working copy" if key == "version" else "none"
    if key in {"content_hash", "eval_set_hash", "git_commit"}:
        return str(value)[:12]  # the first 12 characters tell them apart
    return str(value)


def comparison_lines(previous: dict) -> list[str]:
    """The comparison with the previous run, as plain lines (report.md and report.html)."""
    lines = [f"previous run: {previous['created']} ({previous['path']}), verdict {previous['verdict_before']}"]
    changes = previous["evaluated_changes"]
    lines.append(
        "what was evaluated changed: "
        + "; ".join(f"{k} {_evaluated_value(k, a)} -> {_evaluated_value(k, b)}" for k, (a, b) in changes.items())
        if changes
        else "what was evaluated: unchanged (prompt, version, hash, model, target, eval set)"
    )
    return lines


def run_comparison_lines(run: dict) -> list[str]:
    """One run's criteria before -> now and the cases that flipped, as plain lines."""
    lines = [f"{c['name']}: {c['before_text']} -> {c['now_text']}" for c in run["criteria"]]
    for flip, ids in run["flips"].items():
        lines.append(f"{flip} ({len(ids)}): {', '.join(ids)}")
    if run["new_cases"]:
        lines.append(f"new cases ({len(run['new_cases'])}): {', '.join(run['new_cases'])}")
    if run["removed_cases"]:
        lines.append(f"removed cases ({len(run['removed_cases'])}): {', '.join(run['removed_cases'])}")
    if not run["flips"]:
        lines.append("no case that ran both times changed status")
    return lines


def html_report(
    use_case: str,
    runs: list[Run],
    criteria: ExitCriteria,
    *,
    simulated: bool,
    created: str,
    evaluated: dict,
    previous: dict | None = None,
    variables: dict[str, dict[str, str]] | None = None,
) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Eval report: {esc(use_case)}</title>",
        "<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328}"
        "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left}"
        ".PASS{color:#1a7f37;font-weight:600}.FAIL{color:#cf222e;font-weight:600}.note{background:#fff8c5;"
        "padding:.6em 1em;border-left:4px solid #d4a72c}.charts{display:flex;flex-wrap:wrap;gap:1em}"
        "svg{max-width:100%;height:auto}code{background:#f6f8fa;padding:0 3px;white-space:pre-wrap;word-break:break-word}"
        "table.cases{width:100%;table-layout:fixed}table.cases td{vertical-align:top;overflow-wrap:anywhere}"
        "table.cases tr>:nth-child(1){width:14%}table.cases tr>:nth-child(2){width:10%}"
        "table.cases tr>:nth-child(3){width:30%}table.cases tr>:nth-child(4){width:24%}"
        "table.cases ul{margin:0;padding-left:1.1em}"
        "pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:4px;margin:2px 0}"
        "h5{margin:.8em 0 .2em;font-size:1em}.single{border:1px solid #d0d7de;padding:.6em 1em;max-width:40em}"
        "</style></head><body>",
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
    if previous:
        parts.append("<h2>Since the previous run</h2><ul>")
        parts += [f"<li>{esc(line)}</li>" for line in comparison_lines(previous)]
        parts.append("</ul>")
        for compared in previous["runs"]:
            parts.append(
                f"<h3>{esc(compared['model'])}: {esc(str(compared['verdict_before']))} -> {compared['verdict_now']}</h3>"
                "<table><tr><th>criterion</th><th>before</th><th>now</th></tr>"
                + "".join(
                    f"<tr><td>{esc(c['name'])}</td><td>{esc(c['before_text'])}</td><td>{esc(c['now_text'])}</td></tr>"
                    for c in compared["criteria"]
                )
                + "</table>"
            )
            flipped = [*compared["flips"].items()] or [("no case that ran both times changed status", [])]
            flipped += [("new", compared["new_cases"])] if compared["new_cases"] else []
            flipped += [("removed", compared["removed_cases"])] if compared["removed_cases"] else []
            parts.append(
                "<ul>"
                + "".join(
                    f"<li><b>{esc(flip)} ({len(ids)})</b>: "
                    + ", ".join(f"<code>{esc(i)}</code>" for i in ids)
                    + "</li>"
                    for flip, ids in flipped
                )
                + "</ul>"
            )
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
        retrieval = retrieval_rows(s)
        if retrieval:
            parts.append(
                "<h3>Retrieval</h3><table><tr>"
                + "".join(f"<th>{esc(c)}</th>" for c in RETRIEVAL_COLUMNS)
                + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in retrieval)
                + f"</table><p>{esc(retrieval_note(s))}</p>"
            )
        answered = [r.answer for r in run.results if r.answer.ok]
        charts = [f"<figure>{accuracy_by_tag_chart(s, criteria.min_accuracy)}</figure>"] if s.accuracy_by_tag else []
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
        parts.append("<div class='charts'>" + "".join(charts) + "</div>")
        parts.append(not_passing_html(run, variables or {}))
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
    cases: Sequence[EvalCase] = (),
    previous: Path | None = None,
) -> Path:
    """Write the four files; `previous` (see previous_report) is the earlier report.json to compare with."""
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
    if previous and previous.parent.resolve() == out.resolve():
        previous = None  # a rerun into the same folder: its old report is about to be replaced
    document["previous"] = compare_with(previous, document, runs) if previous else None
    variables = {c.id: c.variables for c in cases}
    (out / "report.json").write_text(json.dumps(document, indent=2))
    with (out / "results.jsonl").open("w") as results:
        for run in runs:
            for r in run.results:
                row = {"model": run.summary.model, "id": r.id, "status": r.status, "tags": r.tags}
                row |= {"variables": variables.get(r.id), **asdict(r.answer)}
                row["checks"] = [asdict(c) for c in r.checks]
                if r.retrieval is not None:
                    row["retrieval_score"] = r.retrieval.as_dict()
                results.write(json.dumps(row, ensure_ascii=False) + "\n")
    what, before = evaluated.to_dict(), document["previous"]
    (out / "report.md").write_text(
        markdown(use_case, runs, simulated=simulated, created=created, evaluated=what, previous=before)
    )
    (out / "report.html").write_text(
        html_report(
            use_case,
            runs,
            criteria,
            simulated=simulated,
            created=created,
            evaluated=what,
            previous=before,
            variables=variables,
        )
    )
    return out


def latest_report(use_case: str, root: Path = REPO_ROOT) -> Path | None:
    directory = root / REPORTS_DIR.name / use_case
    # the newest written, not the last by name (a folder given with --out may sort after a timestamp)
    found = sorted(directory.glob("*/report.json"), key=lambda p: p.stat().st_mtime) if directory.is_dir() else []
    return found[-1] if found else None
