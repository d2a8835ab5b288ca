"""`liftoff readiness`: one GO or NO-GO for a use case against its definition of done.

Each line carries its evidence, its date and its source, and what to run when it is not met:

- the charter: written (no scaffold placeholders left), its review date not passed, its scope unchanged
  since it was agreed (`liftoff scope check`);
- the exit criteria, met by the newest eval of the live version (or, without a registry, of the version
  the prompt file would publish: its content hash) on a real model; the simulator's runs show as "not
  measured on a real model";
- coverage of production-like data: the share of noisy, edge, adversarial and pii cases in the eval set
  (`charter.min_production_like_share`);
- load at the charter's peak rate within the p95 and error-rate criteria (the last `liftoff load`);
- the cost projection at the charter's volume against the daily cap and the monthly budget;
- the last smoke result (`liftoff smoke`);
- the golden canary: scheduled, and passing (a stage's `CanaryAccuracy` metric; locally the last
  `liftoff canary run`, on the simulator);
- synth-time security checks: the stage's stack synthesized in-process with the cdk-nag AwsSolutions and
  Serverless packs, no unacknowledged finding.

Local mode's evidence (the simulator, local load, local smoke) shows what was run and is never enough for
GO: the verdict is about the deployed stage and a real model.
"""

from __future__ import annotations

import functools
import html
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import click
from botocore.exceptions import BotoCoreError, ClientError

from liftoff import REPO_ROOT
from liftoff.charter import check_scope
from liftoff.console import make_console
from liftoff.evals.evidence import EvalEvidence, evidence_from_report, judged_today
from liftoff.evals.runner import Criterion
from liftoff.foundation.config import canary_schedule, get_stage, schedule_seconds
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import STANDARD_TAGS, load_cases
from liftoff.foundation.usecases import UseCase, load_use_case
from liftoff.last_results import read_results, result_file
from liftoff.options import use_case_option
from service.models.errors import ServiceError

PASS, FAIL, NOT_MEASURED = "PASS", "FAIL", "NOT MEASURED"
PRODUCTION_LIKE_TAGS = tuple(t for t in STANDARD_TAGS if t != "clean")
DEFAULT_PRODUCTION_LIKE_SHARE = 0.3  # without a charter (which sets its own)
CANARY_LOOKBACK = timedelta(days=2)
NOT_REAL = "not measured on a real model"


@dataclass(frozen=True)
class Line:
    """One item of the definition of done."""

    item: str
    status: str  # PASS | FAIL | NOT MEASURED
    evidence: str
    date: str | None
    source: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status == PASS


@dataclass(frozen=True)
class Verdict:
    use_case: str
    stage: str | None
    created: str
    lines: list[Line]
    outcome: str | None = None
    owner: str | None = None
    charts: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def go(self) -> bool:
        return all(line.ok for line in self.lines)

    def to_dict(self) -> dict:
        return {
            "use_case": self.use_case,
            "stage": self.stage,
            "created": self.created,
            "verdict": "GO" if self.go else "NO-GO",
            "go": self.go,
            "outcome": self.outcome,
            "owner": self.owner,
            "lines": [asdict(line) | {"ok": line.ok} for line in self.lines],
        }


class Sources(Protocol):
    """Where readiness reads what is deployed: local mode's registry, a stage's, or none."""

    where: str  # how a line names it
    stage: str | None

    def live(self, prompt_id: str) -> tuple[int, str] | None:
        """The live version and its content hash; None when there is no registry to ask."""

    def evidence(self, prompt_id: str, version: int) -> list[EvalEvidence]: ...

    def canary_accuracy(self) -> tuple[float, str] | None:
        """The golden canary's newest accuracy on the stage and when; None locally or without data."""


@dataclass
class NoRegistry:
    """No registry to read (local mode not running, no --stage): the prompt files say what would ship."""

    where: str = "the prompt files (no registry: local mode is not running and no --stage)"
    stage: str | None = None

    def live(self, prompt_id: str) -> tuple[int, str] | None:
        return None

    def evidence(self, prompt_id: str, version: int) -> list[EvalEvidence]:
        return []

    def canary_accuracy(self) -> tuple[float, str] | None:
        return None


@dataclass
class RegistrySources:
    """A prompt registry (local mode's or a stage's) and, on a stage, its CloudWatch metrics."""

    store: object  # service.dal.prompt_store.PromptStore
    where: str
    use_case: str
    stage: str | None = None
    cloudwatch: object | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def live(self, prompt_id: str) -> tuple[int, str] | None:
        from service.dal.prompt_store import LIVE_ALIAS

        alias = self.store.get_alias(prompt_id, LIVE_ALIAS)
        if alias is None:
            return None
        version = self.store.get_version(prompt_id, alias.version)
        return alias.version, version.content_hash if version else ""

    def evidence(self, prompt_id: str, version: int) -> list[EvalEvidence]:
        return self.store.list_evidence(prompt_id, version)

    def canary_accuracy(self) -> tuple[float, str] | None:
        if self.cloudwatch is None or self.stage is None:
            return None
        from service.observability import METRICS_NAMESPACE

        end = self.now()
        answer = self.cloudwatch.get_metric_statistics(
            Namespace=METRICS_NAMESPACE,
            MetricName="CanaryAccuracy",
            Dimensions=[{"Name": "UseCase", "Value": self.use_case}, {"Name": "Stage", "Value": self.stage}],
            StartTime=end - CANARY_LOOKBACK,
            EndTime=end,
            Period=3600,
            Statistics=["Minimum"],
        )
        points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
        if not points:
            return None
        newest = points[-1]
        return float(newest["Minimum"]), newest["Timestamp"].isoformat(timespec="seconds")


def stage_sources(use_case: str, stage: str) -> RegistrySources:
    import boto3

    from liftoff.deployed import stack_outputs
    from service.dal.prompt_store import PromptStore

    outputs = stack_outputs(use_case, stage, required="PromptsTableName")
    table = boto3.resource("dynamodb").Table(outputs["PromptsTableName"])
    return RegistrySources(
        PromptStore(table, use_case),
        f"stage {stage}'s registry",
        use_case,
        stage,
        cloudwatch=boto3.client("cloudwatch"),
    )


def local_sources(use_case: str) -> Sources:
    from liftoff.local import runtime
    from service.dal.prompt_store import PromptStore

    state = runtime.read_state(use_case)
    if not runtime.is_running(state):
        return NoRegistry()
    store = PromptStore(runtime.local_table(state, state.table_name), use_case)
    return RegistrySources(store, "local mode's registry", use_case)


# -- evidence on disk ------------------------------------------------------------------------------


def report_evidence(use_case: str, root: Path = REPO_ROOT) -> list[EvalEvidence]:
    """Every eval report on disk that is evidence for one published version, newest first."""
    found = []
    for path in (root / "reports" / use_case).glob("*/report.json"):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            record = evidence_from_report(report, str(path))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an old or partial report is not evidence
        if record is not None:
            found.append(record)
    return sorted(found, key=lambda e: e.created, reverse=True)


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path


def _amount(name: str, value: float) -> str:
    """A criterion's value as the eval report shows it (names from liftoff/evals/runner.py)."""
    if "latency" in name:
        return f"{value:.0f} ms"
    if "cost" in name:
        return f"${value:.6f}"
    return f"{value:.1%}"


def _criteria_text(judged: list[Criterion]) -> str:
    parts = []
    for c in judged:
        if c.measured is None:
            parts.append(f"{c.name} n/a")
            continue
        mark = "" if c.passed else " NOT MET"
        parts.append(f"{c.name} {_amount(c.name, c.measured)}{mark} (limit {_amount(c.name, c.threshold)})")
    return "; ".join(parts)


def criteria_lines(use_case: UseCase, sources: Sources, root: Path) -> list[Line]:
    """Per prompt: the newest real-model eval of the live version (or of the file's content hash)."""
    on_disk = report_evidence(use_case.name, root)
    lines = []
    for prompt in use_case.prompts:
        live = sources.live(prompt.prompt_id)
        if live is not None:
            version, digest = live
            subject = f"{prompt.prompt_id} v{version} (live, sha256:{digest[:12]})"
        else:
            version, digest = None, prompt.content_hash()
            subject = f"{prompt.prompt_id} as the file would publish it (sha256:{digest[:12]})"
        records = [
            e
            for e in on_disk
            if e.prompt_id == prompt.prompt_id
            and e.content_hash == digest
            and (version is None or e.version == version)
        ]
        if version is not None:
            records += sources.evidence(prompt.prompt_id, version)
        records = sorted({(e.created, e.report): e for e in records}.values(), key=lambda e: e.created, reverse=True)
        real = [e for e in records if e.conclusive]
        item = f"exit criteria: {prompt.prompt_id}"
        command = (
            f"liftoff eval run --use-case {use_case.name} --target api --stage {sources.stage or 'S'} "
            f"--version {version or 'N'}"
        )
        if real:
            newest = real[0]
            judged = judged_today(newest, use_case.config.exit_criteria)
            met = newest.passed and all(c.passed for c in judged)
            lines.append(
                Line(
                    item,
                    PASS if met else FAIL,
                    f"{subject}: {'all met' if met else 'not all met'} on a real model ({newest.model_id} "
                    f"via {newest.target}, guardrail {'applied' if newest.guardrail_applied else 'NOT applied'}): "
                    f"{_criteria_text(judged)}",
                    newest.created,
                    _relative(newest.report),
                    "" if met else f"improve the prompt, publish it, then {command}",
                )
            )
            continue
        if records:
            newest = records[0]
            kind = "simulator" if newest.simulated else "a sample of the eval set" if newest.sample else newest.target
            seen = f"newest run: {'PASS' if newest.passed else 'FAIL'} on {newest.target} ({kind})"
            missing = NOT_REAL if not newest.real_model else "not measured on the whole eval set"
            lines.append(
                Line(
                    item,
                    NOT_MEASURED,
                    f"{subject}: {missing}; {seen}: {_criteria_text(judged_today(newest, use_case.config.exit_criteria))}",
                    newest.created,
                    _relative(newest.report),
                    command,
                )
            )
        else:
            lines.append(
                Line(item, NOT_MEASURED, f"{subject}: {NOT_REAL}; no eval of it found", None, sources.where, command)
            )
    return lines


# -- the other lines -------------------------------------------------------------------------------


def charter_lines(use_case: UseCase, today: date) -> list[Line]:
    name, charter = use_case.name, use_case.config.charter
    where = f"usecases/{name}.yaml"
    if charter is None:
        missing = Line(
            "charter",
            FAIL,
            "no charter: outcome, owner, volume, phase and review date are not written",
            None,
            where,
            "add a `charter:` section (docs/readiness.md)",
        )
        return [missing, Line("review date", FAIL, "no charter, so no review date", None, where, missing.fix)]
    placeholders = charter.placeholders()
    lines = [
        Line(
            "charter",
            FAIL if placeholders else PASS,
            f"still holds placeholders in {', '.join(placeholders)}"
            if placeholders
            else f"phase {charter.phase}, owner {charter.owner}, {len(charter.stakeholders)} stakeholder(s), "
            f"{charter.expected_requests_per_day:,} requests/day expected",
            None,
            where,
            f"replace the <...> placeholders in {where}" if placeholders else "",
        )
    ]
    days = (charter.review_by - today).days
    lines.append(
        Line(
            "review date",
            PASS if days >= 0 else FAIL,
            f"review by {charter.review_by} ({days} days left)"
            if days >= 0
            else f"review date {charter.review_by} passed {-days} days ago",
            charter.review_by.isoformat(),
            where,
            "" if days >= 0 else "review the charter with its stakeholders, set charter.review_by, then amend it",
        )
    )
    return lines


def scope_line(use_case: UseCase) -> Line:
    from liftoff.charter import agreement_path, read_agreement

    path = agreement_path(use_case.name, use_case.root)
    source = str(path.relative_to(use_case.root)) if path.is_relative_to(use_case.root) else str(path)
    try:
        result = check_scope(use_case)
        agreement = read_agreement(use_case.name, use_case.root)
    except ConfigError as exc:
        return Line("scope", FAIL, str(exc), None, source, "restore the file from git, or agree the charter again")
    if agreement is None:
        return Line(
            "scope",
            FAIL,
            "the charter was never agreed",
            None,
            source,
            f"liftoff charter agree --use-case {use_case.name} --by NAME",
        )
    amendments = agreement.get("amendments") or []
    when = amendments[-1]["date"] if amendments else agreement["agreed_at"]
    return Line("scope", PASS if result.ok else FAIL, result.detail, when, source, result.fix)


def coverage_line(use_case: UseCase, root: Path) -> Line:
    charter = use_case.config.charter
    minimum = charter.min_production_like_share if charter else DEFAULT_PRODUCTION_LIKE_SHARE
    source = f"evals/{use_case.name}/"
    try:
        cases = load_cases(use_case.name, root=root)
    except (ConfigError, OSError) as exc:
        return Line(
            "production-like data",
            FAIL,
            f"no eval set: {exc}",
            None,
            source,
            f"liftoff eval augment --use-case {use_case.name}",
        )
    counts = {tag: sum(tag in c.tags for c in cases) for tag in PRODUCTION_LIKE_TAGS}
    like = sum(bool(set(PRODUCTION_LIKE_TAGS) & set(c.tags)) for c in cases)
    share = like / len(cases) if cases else 0.0
    missing = [tag for tag, n in counts.items() if n == 0]
    ok = share >= minimum and not missing
    tags = ", ".join(f"{n} {tag}" for tag, n in counts.items())
    return Line(
        "production-like data",
        PASS if ok else FAIL,
        f"{like} of {len(cases)} cases ({share:.0%}, minimum {minimum:.0%}) are production-like: {tags}"
        + (f"; none tagged {', '.join(missing)}" if missing else ""),
        None,
        source,
        ""
        if ok
        else f"add noisy/edge/adversarial/pii cases (liftoff eval augment --use-case {use_case.name}, or by hand)",
    )


def _stage_result(results: dict[str, dict], stage: str | None) -> tuple[str, dict] | None:
    """The result to judge: the stage's, else (without --stage) the newest deployed one, else local's."""
    if stage is not None:
        return (stage, results[stage]) if stage in results else None
    deployed = [(k, v) for k, v in results.items() if k != "local"]
    if deployed:
        return max(deployed, key=lambda kv: kv[1].get("created", ""))
    return ("local", results["local"]) if "local" in results else None


def load_line(use_case: UseCase, stage: str | None, root: Path) -> Line:
    config = use_case.config
    peak = config.charter.peak_requests_per_s if config.charter else None
    source = str(result_file(use_case.name, "load", root).relative_to(root))
    users = math.ceil((peak or 1) * (config.exit_criteria.p95_latency_ms / 1000 + 0.125)) + 1
    command = (
        f"liftoff load --use-case {use_case.name} --target api --stage {stage or 'S'} --users {users} --duration 300"
    )
    found = _stage_result(read_results(use_case.name, "load", root), stage)
    if found is None:
        return Line("load at peak rate", NOT_MEASURED, "no load test found", None, source, command)
    target, result = found
    criteria = config.exit_criteria
    problems = []
    if peak is not None and result["rps"] < peak:
        problems.append(f"ran at {result['rps']:.2f} requests/s, below the charter's peak {peak:g}/s")
    if result["p95_ms"] > criteria.p95_latency_ms:
        problems.append(f"p95 {result['p95_ms']:.0f} ms over {criteria.p95_latency_ms} ms")
    if result["error_rate"] > criteria.max_error_rate:
        problems.append(f"error rate {result['error_rate']:.1%} over {criteria.max_error_rate:.0%}")
    figures = (
        f"{result['requests']} requests at {result['rps']:.2f}/s ({result.get('users')} users), p95 "
        f"{result['p95_ms']:.0f} ms, errors {result['error_rate']:.1%}"
    )
    if target == "local":
        return Line(
            "load at peak rate",
            NOT_MEASURED,
            f"local mode only (simulated model latency): {figures}; not the deployed stage",
            result.get("created"),
            source,
            command,
        )
    return Line(
        "load at peak rate",
        FAIL if problems else PASS,
        f"stage {target}: {figures}" + (f": {'; '.join(problems)}" if problems else f"; peak {peak:g}/s reached"),
        result.get("created"),
        source,
        command if problems else "",
    )


def cost_line(use_case: UseCase, stage: str | None) -> tuple[Line, dict | None]:
    """The projection at the charter's volume, from the newest eval report's measured usage."""
    from liftoff.cost_project import clock, lambda_duration, measured_usage, project_use_case

    config = use_case.config
    if config.charter is None:
        return Line("cost at expected volume", FAIL, "no charter: no expected volume", None, "", ""), None
    per_day = config.charter.expected_requests_per_day
    from liftoff.evals.report import latest_report

    report = latest_report(use_case.name, use_case.root)
    try:
        usage = measured_usage(use_case.name, report.parent if report else None)
    except click.ClickException as exc:
        return Line(
            "cost at expected volume",
            NOT_MEASURED,
            exc.message,
            None,
            "reports/",
            f"liftoff eval run --use-case {use_case.name}",
        ), None
    duration, _ = lambda_duration(config, usage, None)
    projection = project_use_case(use_case.name, stage or "prod", per_day, usage, duration)
    binding = [x for x in projection.limits if x.exceeded]
    cap, budget = config.budget.daily_cap_usd, config.budget.monthly_usd
    text = (
        f"{per_day:,} requests/day: ${projection.daily_spend_usd:,.2f}/day of the ${cap:g} daily cap, "
        f"${projection.billed_monthly_usd:,.2f}/month of the ${budget:g} budget ({stage or 'prod'})"
    )
    if binding:
        first = projection.first
        text += f"; first limit reached: {first.name} at {clock(first.reached_hours)}"
    if usage.simulated:
        text += "; tokens measured on the simulator"
    chart = {"daily": (projection.daily_spend_usd, cap), "monthly": (projection.billed_monthly_usd, budget)}
    return (
        Line(
            "cost at expected volume",
            FAIL if binding else PASS,
            text,
            None,
            usage.source,
            f"liftoff cost project --use-case {use_case.name}" if binding else "",
        ),
        chart,
    )


def smoke_line(use_case: UseCase, stage: str | None, root: Path) -> Line:
    source = str(result_file(use_case.name, "smoke", root).relative_to(root))
    command = f"liftoff smoke --stage {stage or 'S'} --use-case {use_case.name}"
    found = _stage_result(read_results(use_case.name, "smoke", root), stage)
    if found is None:
        return Line("smoke test", NOT_MEASURED, "no smoke test found", None, source, command)
    target, result = found
    skipped = result.get("skipped", 0)
    passed = result["checks"] - len(result["failed"]) - skipped
    figures = f"{passed} of {result['checks']} checks passed" + (f", {skipped} skipped" if skipped else "")
    figures += f"; FAILED: {', '.join(result['failed'])}" if result["failed"] else ""
    if target == "local":
        return Line("smoke test", NOT_MEASURED, f"local mode only: {figures}", result.get("created"), source, command)
    return Line(
        "smoke test",
        PASS if result["passed"] else FAIL,
        f"stage {target}: {figures}",
        result.get("created"),
        source,
        "" if result["passed"] else command,
    )


def canary_line(use_case: UseCase, sources: Sources, root: Path) -> Line:
    config = use_case.config
    stage = sources.stage
    schedules = {name: canary_schedule(config, get_stage(name)) for name in ([stage] if stage else ["sandbox", "prod"])}
    scheduled = {name: s for name, s in schedules.items() if schedule_seconds(s)}
    where = ", ".join(f"{name} {s}" for name, s in schedules.items())
    if not scheduled:
        return Line(
            "golden canary",
            FAIL,
            f"not scheduled ({where})",
            None,
            f"usecases/{use_case.name}.yaml",
            "set monitoring.canary.schedule",
        )
    minimum = config.exit_criteria.min_accuracy
    if stage is not None:
        measured = sources.canary_accuracy()
        if measured is None:
            return Line(
                "golden canary",
                NOT_MEASURED,
                f"scheduled ({where}); no CanaryAccuracy datapoint in the last {CANARY_LOOKBACK.days} days",
                None,
                f"CloudWatch {stage}",
                "wait for its schedule, or invoke the canary function once",
            )
        accuracy, when = measured
        return Line(
            "golden canary",
            PASS if accuracy >= minimum else FAIL,
            f"scheduled ({where}); newest CanaryAccuracy {accuracy:.0%} (min_accuracy {minimum:.0%})",
            when,
            f"CloudWatch {stage}",
            "" if accuracy >= minimum else "see the CanaryAccuracy alarm's runbook (docs/operations.md)",
        )
    local = read_results(use_case.name, "canary", root).get("local")
    source = str(result_file(use_case.name, "canary", root).relative_to(root))
    ran = (
        f"; last local run (simulator): {local['accuracy']:.0%} of {local['cases']} golden cases"
        if local and local.get("accuracy") is not None
        else "; never run locally (liftoff canary run)"
    )
    return Line(
        "golden canary",
        NOT_MEASURED,
        f"scheduled ({where}){ran}; passing is read from a stage ({NOT_REAL} here)",
        local.get("created") if local else None,
        source,
        f"liftoff readiness --use-case {use_case.name} --stage S",
    )


def nag_findings(use_case: UseCase, stage: str) -> str | None:
    """Synthesize the stage's stack with the cdk-nag packs; None when clean, else the findings."""
    prompts = tuple(p.content_hash() for p in use_case.prompts)
    return _nag_findings(use_case.name, stage, use_case.config.model_dump_json(), prompts, use_case.root)


@functools.cache
def _nag_findings(name: str, stage: str, _config: str, _prompts: tuple[str, ...], root: Path) -> str | None:
    # cached on what the stack is made of (the config and the prompts), so one process synthesizes it once
    import tempfile

    import aws_cdk as cdk

    from liftoff.foundation.names import stack_name
    from stacks.nag import add_nag_checks
    from stacks.usecase_stack import UseCaseStack

    with tempfile.TemporaryDirectory() as out:
        app = cdk.App(outdir=out)
        UseCaseStack(
            app,
            stack_name(name, stage),
            use_case=load_use_case(name, root),
            stage=get_stage(stage),
            env=cdk.Environment(account="111111111111", region="us-east-1"),
        )
        add_nag_checks(app)
        try:
            app.synth()
        except Exception as exc:  # the validation plugins report their findings by failing synth
            return str(exc)[-1500:]
    return None


def security_line(use_case: UseCase, stage: str | None) -> Line:
    name = stage or "prod"
    findings = nag_findings(use_case, name)
    checked = f"cdk-nag AwsSolutions and Serverless packs on the synthesized {name} stack"
    if findings is None:
        return Line(
            "security checks at synth",
            PASS,
            f"{checked}: no unacknowledged finding (each acknowledgement carries its reason; cfn-lint and "
            "checkov run in make test)",
            datetime.now(UTC).isoformat(timespec="seconds"),
            "synthesized now",
        )
    return Line("security checks at synth", FAIL, f"{checked}: {findings}", None, "synthesized now", "make test-infra")


# -- the verdict -----------------------------------------------------------------------------------


def readiness(
    use_case_name: str,
    stage: str | None = None,
    *,
    sources: Sources | None = None,
    root: Path = REPO_ROOT,
    now: datetime | None = None,
) -> Verdict:
    now = now or datetime.now(UTC)
    use_case = load_use_case(use_case_name, root)
    if sources is None:
        sources = stage_sources(use_case_name, stage) if stage else local_sources(use_case_name)
    charter_items = charter_lines(use_case, now.date())
    cost, cost_chart = cost_line(use_case, stage)
    lines = [
        charter_items[0],
        *criteria_lines(use_case, sources, root),
        coverage_line(use_case, root),
        load_line(use_case, stage, root),
        cost,
        smoke_line(use_case, stage, root),
        canary_line(use_case, sources, root),
        security_line(use_case, stage),
        scope_line(use_case),
        charter_items[1],
    ]
    charter = use_case.config.charter
    verdict = Verdict(
        use_case_name,
        stage,
        now.isoformat(timespec="seconds"),
        lines,
        outcome=charter.outcome if charter else None,
        owner=charter.owner if charter else None,
    )
    if cost_chart:
        verdict.charts["cost"] = cost_chart_svg(cost_chart)
    return verdict


# -- the report ------------------------------------------------------------------------------------


def cost_chart_svg(figures: dict[str, tuple[float, float]]) -> str:
    """Spend at the expected volume as a share of the daily cap and of the monthly budget."""
    from liftoff.charts import pyplot, svg
    from liftoff.evals.report import FAIL_COLOR, PASS_COLOR

    labels = ["daily spend / daily cap", "monthly bill / budget"]
    shares = [figures["daily"][0] / figures["daily"][1], figures["monthly"][0] / figures["monthly"][1]]
    fig, ax = pyplot().subplots(figsize=(6, 1.8))
    ax.barh(labels, [s * 100 for s in shares], color=[FAIL_COLOR if s > 1 else PASS_COLOR for s in shares])
    ax.axvline(100, color="#57606a", linestyle="--", linewidth=1)
    ax.set_xlabel("% of the limit at the charter's expected volume")
    ax.set_title("spend at the expected volume", fontsize=10)
    for y, share in enumerate(shares):
        ax.text(share * 100, y, f" {share:.0%}", va="center", fontsize=9)
    ax.set_xlim(0, max(120, max(shares) * 115))
    return svg(fig)


def when(stamp: str | None) -> str:
    """`2026-12-01 21:43 UTC` for an ISO-8601 time, the date alone for a date; `-` for none."""
    if not stamp:
        return "-"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if len(stamp) <= 10:
        return stamp
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _summary(verdict: Verdict) -> str:
    met = sum(line.ok for line in verdict.lines)
    return f"{met} of {len(verdict.lines)} items met"


def markdown_report(verdict: Verdict) -> str:
    word = "GO" if verdict.go else "NO-GO"
    out = [
        f"# Readiness: {verdict.use_case}" + (f" ({verdict.stage})" if verdict.stage else " (local)"),
        "",
        f"**{word}**: {_summary(verdict)}. Created {when(verdict.created)}.",
        "",
    ]
    if verdict.outcome:
        out += [f"Outcome agreed: *{verdict.outcome}* (owner: {verdict.owner}).", ""]
    out += ["| item | status | evidence | date | source | next step |", "|---|---|---|---|---|---|"]
    for line in verdict.lines:
        cells = [line.item, line.status, line.evidence, when(line.date), line.source, line.fix or "-"]
        out.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    out += [
        "",
        "GO needs every item met on the deployed stage and a real model: runs on local mode's simulator show what "
        "was run, not whether it is good.",
        "",
    ]
    return "\n".join(out)


def html_report(verdict: Verdict) -> str:
    esc = html.escape
    word = "GO" if verdict.go else "NO-GO"
    colour = "#1a7f37" if verdict.go else "#cf222e"
    classes = {PASS: "sok", FAIL: "sno", NOT_MEASURED: "snm"}
    rows = "".join(
        f"<tr><td>{esc(line.item)}</td><td class='{classes[line.status]}'>{esc(line.status)}</td>"
        f"<td>{esc(line.evidence)}</td><td>{esc(when(line.date))}</td><td><code>{esc(line.source)}</code></td>"
        f"<td>{'<code>' + esc(line.fix) + '</code>' if line.fix else '-'}</td></tr>"
        for line in verdict.lines
    )
    charts = "".join(f"<figure>{svg}</figure>" for svg in verdict.charts.values())
    where = f"stage {verdict.stage}" if verdict.stage else "local mode"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Readiness: {esc(verdict.use_case)}</title>"
        "<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328}"
        "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}"
        ".sok{color:#1a7f37;font-weight:600}.sno{color:#cf222e;font-weight:600}.snm{color:#9a6700;font-weight:600}code{background:#f6f8fa;padding:0 3px}"
        f".verdict{{font-size:2em;font-weight:700;color:{colour}}}svg{{max-width:100%;height:auto}}</style></head><body>"
        f"<h1>Is {esc(verdict.use_case)} done?</h1>"
        f"<p class='verdict'>{word}</p><p>{esc(_summary(verdict))}, judged on {esc(where)} at {esc(when(verdict.created))}.</p>"
        + (
            f"<p>Agreed outcome: <em>{esc(verdict.outcome)}</em> (owner: {esc(verdict.owner or '')}).</p>"
            if verdict.outcome
            else ""
        )
        + _to_go_html(verdict)
        + charts
        + "<h2>Every item</h2><table><tr><th>item</th><th>status</th><th>evidence</th><th>date</th><th>source</th><th>next step</th></tr>"
        + rows
        + "</table>"
        + "<p>GO needs every item met on the deployed stage and a real model. NOT MEASURED means the evidence is "
        "missing or came from local mode's simulator, which shows that the pipeline works, not that the answers are good.</p>"
        "</body></html>"
    )


def _to_go_html(verdict: Verdict) -> str:
    missing = [line for line in verdict.lines if not line.ok]
    if not missing:
        return "<p>Every item of the definition of done is met, with its evidence below.</p>"
    items = "".join(
        f"<li><strong>{html.escape(line.item)}</strong> ({html.escape(line.status.lower())})"
        + (f": run <code>{html.escape(line.fix)}</code>" if line.fix else "")
        + "</li>"
        for line in missing
    )
    return f"<h2>What stands between this and GO</h2><ul>{items}</ul>"


def write_reports(verdict: Verdict, root: Path = REPO_ROOT) -> Path:
    stamp = datetime.fromisoformat(verdict.created).strftime("%Y%m%dT%H%M%SZ")
    out = root / "reports" / verdict.use_case / f"readiness-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "readiness.md").write_text(markdown_report(verdict), encoding="utf-8")
    (out / "readiness.html").write_text(html_report(verdict), encoding="utf-8")
    (out / "readiness.json").write_text(json.dumps(verdict.to_dict(), indent=2), encoding="utf-8")
    return out


def render(verdict: Verdict) -> None:
    from rich.table import Table

    word = "GO" if verdict.go else "NO-GO"
    table = Table(title=f"readiness: {verdict.use_case} ({verdict.stage or 'local'})", show_lines=True)
    for column, ratio in (("item", 2), ("status", 1), ("evidence", 6), ("date", 2), ("source / next step", 3)):
        table.add_column(column, overflow="fold", ratio=ratio)
    colours = {PASS: "green", FAIL: "red", NOT_MEASURED: "yellow"}
    for line in verdict.lines:
        where = line.source + (f"\n-> {line.fix}" if line.fix else "")
        table.add_row(line.item, f"[{colours[line.status]}]{line.status}[/]", line.evidence, when(line.date), where)
    console = make_console()
    if verdict.outcome:
        console.print(f"outcome: {verdict.outcome} (owner: {verdict.owner})", highlight=False)
    console.print(table, markup=True)
    console.print(f"[bold {'green' if verdict.go else 'red'}]{word}[/]: {_summary(verdict)}")


@click.command(
    help="One GO or NO-GO for the use case against its definition of done, each line with its evidence, "
    "date and source; writes an HTML and a Markdown report. Exit 0 only on GO."
)
@use_case_option()
@click.option(
    "--stage",
    type=click.Choice(["sandbox", "prod"]),
    default=None,
    help="Judge this deployed stage (default: local evidence).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def readiness_command(use_case: str, stage: str | None, as_json: bool) -> None:
    try:
        if not as_json:
            click.echo(
                f"readiness of {use_case} ({stage or 'local'}): synthesizing the stack for the security checks ...",
                err=True,
            )
        verdict = readiness(use_case, stage)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    except (BotoCoreError, ClientError, ServiceError) as exc:  # no credentials, no access to the registry or metrics
        raise click.ClickException(
            f"cannot read stage {stage} of {use_case}: {getattr(exc, 'message', exc)} (readiness needs cloudformation:DescribeStacks, "
            "dynamodb:GetItem and Query on the prompts table, cloudwatch:GetMetricStatistics)"
        ) from exc
    out = write_reports(verdict)
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), indent=2))
    else:
        render(verdict)
        shown = out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out
        click.echo(f"report: {shown}/readiness.html (also readiness.md, readiness.json)")
    raise SystemExit(0 if verdict.go else 1)
