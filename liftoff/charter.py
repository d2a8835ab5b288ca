"""The charter's agreement and scope control: `liftoff charter agree|amend|show` and `liftoff scope check`.

`charters/<use_case>.yaml` (committed, the team's content) records who agreed the charter and when,
the scoped fields as they were (outcome, exit criteria, prompt ids, allowed models, API routes) and
their fingerprint, then one entry per amendment (date, by, what, why, and the scope it agreed to).
During `poc` and `pilot`, `liftoff scope check` fails when the scope on disk differs from the last
agreed one: every change needs an amendment that covers it. In `production` changes go through the
eval and promotion gates instead, and the check only reports them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
import yaml

from liftoff import REPO_ROOT
from liftoff.foundation.config import ExitCriteria, display_path, read_yaml
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import UseCase, load_all_use_cases, load_use_case
from liftoff.options import use_case_option

CHARTERS_DIR = "charters"
OPENAPI_FILE = "openapi.yaml"
ENFORCED_PHASES = ("poc", "pilot")
HEADER = (
    "# Written by `liftoff charter agree` and `liftoff charter amend`: commit it with the change it covers.\n"
    "# `liftoff scope check` compares the use case's scoped fields with the last `scope` agreed here.\n"
)


def agreement_path(use_case: str, root: Path = REPO_ROOT) -> Path:
    return root / CHARTERS_DIR / f"{use_case}.yaml"


def api_routes(root: Path = REPO_ROOT) -> list[str]:
    """`METHOD /path` of every route in openapi.yaml (generated from the code by liftoff/openapi.py)."""
    document = read_yaml(root / OPENAPI_FILE)
    methods = ("get", "put", "post", "delete", "patch")
    return sorted(
        f"{method.upper()} {path}"
        for path, item in (document.get("paths") or {}).items()
        for method in item
        if method in methods
    )


def scope_of(use_case: UseCase) -> dict:
    """The scoped fields as they are on disk."""
    config = use_case.config
    return {
        "outcome": config.charter.outcome if config.charter else None,
        "exit_criteria": config.exit_criteria.model_dump(mode="json"),
        "prompt_ids": sorted(p.prompt_id for p in use_case.prompts),
        "allowed_models": sorted(config.models.allowed),
        "api_routes": api_routes(use_case.root),
    }


def fingerprint(scope: dict) -> str:
    canonical = json.dumps(scope, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Change:
    field: str
    old: object
    new: object

    def describe(self) -> str:
        if isinstance(self.old, list) and isinstance(self.new, list):
            added = [x for x in self.new if x not in self.old]
            removed = [x for x in self.old if x not in self.new]
            parts = [f"added {', '.join(map(str, added))}"] if added else []
            parts += [f"removed {', '.join(map(str, removed))}"] if removed else []
            return f"{self.field}: {'; '.join(parts) or 'reordered'}"
        return f"{self.field}: {json.dumps(self.old)} -> {json.dumps(self.new)}"


def changes(old: dict, new: dict, prefix: str = "") -> list[Change]:
    """Every field that differs, nested mappings flattened (`exit_criteria.min_accuracy`)."""
    found = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            found += changes(before, after, f"{prefix}{key}.")
        elif before != after:
            found.append(Change(f"{prefix}{key}", before, after))
    return found


def _new_criterion_at_its_default(change: Change) -> bool:
    """A criterion the template added after the agreement, at its default, is not a change of scope."""
    name = change.field.removeprefix("exit_criteria.")
    field = ExitCriteria.model_fields.get(name)
    return (
        change.old is None
        and change.field != name
        and field is not None
        and not field.is_required()
        and change.new == field.default
    )


def read_agreement(use_case: str, root: Path = REPO_ROOT) -> dict | None:
    path = agreement_path(use_case, root)
    if not path.exists():
        return None
    data = read_yaml(path)
    for key in ("agreed_by", "agreed_at", "scope", "fingerprint"):
        if key not in data:
            raise ConfigError(f"{display_path(path)}: field `{key}` is missing (written by `liftoff charter agree`)")
    if fingerprint(data["scope"]) != data["fingerprint"]:
        raise ConfigError(f"{display_path(path)}: the fingerprint does not match its `scope`: it was edited by hand")
    for number, amendment in enumerate(data.get("amendments") or [], 1):
        if fingerprint(amendment.get("scope") or {}) != amendment.get("fingerprint"):
            raise ConfigError(f"{display_path(path)}: amendment {number}'s fingerprint does not match its `scope`")
    return data


def agreed_scope(agreement: dict) -> tuple[dict, str]:
    """The scope last agreed (the newest amendment's, else the agreement's), and by what."""
    amendments = agreement.get("amendments") or []
    if amendments:
        last = amendments[-1]
        return last["scope"], f"amendment of {last['date']} by {last['by']}"
    return agreement["scope"], f"agreement of {agreement['agreed_at'][:10]} by {agreement['agreed_by']}"


def _write(use_case: str, data: dict, root: Path) -> Path:
    path = agreement_path(use_case, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
    return path


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)


def agree(use_case: UseCase, by: str, now: datetime | None = None) -> Path:
    """Record the charter's agreement: who, when, and the scoped fields with their fingerprint."""
    charter = use_case.config.charter
    where = f"usecases/{use_case.name}.yaml"
    if charter is None:
        raise ConfigError(f"{where} has no `charter:` section: write one (see docs/readiness.md), then agree it")
    if charter.placeholders():
        raise ConfigError(f"{where}: replace the placeholders in {', '.join(charter.placeholders())} before agreeing")
    existing = read_agreement(use_case.name, use_case.root)
    if existing is not None:
        raise ConfigError(
            f"{display_path(agreement_path(use_case.name, use_case.root))}: agreed already by "
            f"{existing['agreed_by']} on {existing['agreed_at'][:10]}; record a change with "
            f"`liftoff charter amend --use-case {use_case.name} --by NAME --why TEXT`"
        )
    scope = scope_of(use_case)
    data = {
        "use_case": use_case.name,
        "agreed_by": by,
        "agreed_at": _now(now).isoformat(),
        "phase": charter.phase,
        "fingerprint": fingerprint(scope),
        "scope": scope,
        "amendments": [],
    }
    return _write(use_case.name, data, use_case.root)


def amend(use_case: UseCase, by: str, why: str, what: str | None = None, now: datetime | None = None) -> list[Change]:
    """Add an amendment that agrees to the scope as it is now; returns the changes it covers."""
    agreement = read_agreement(use_case.name, use_case.root)
    if agreement is None:
        raise ConfigError(
            f"{use_case.name}: no agreement to amend; agree the charter first: "
            f"`liftoff charter agree --use-case {use_case.name} --by NAME`"
        )
    previous, _ = agreed_scope(agreement)
    scope = scope_of(use_case)
    covered = changes(previous, scope)
    if not covered:
        raise ConfigError(f"{use_case.name}: the scope has not changed since it was last agreed; nothing to amend")
    entry = {
        "date": _now(now).date().isoformat(),
        "by": by,
        "what": what or "; ".join(c.describe() for c in covered),
        "why": why,
        "fingerprint": fingerprint(scope),
        "scope": scope,
    }
    agreement["amendments"] = [*(agreement.get("amendments") or []), entry]
    _write(use_case.name, agreement, use_case.root)
    return covered


@dataclass(frozen=True)
class ScopeResult:
    use_case: str
    ok: bool
    detail: str
    changes: tuple[Change, ...] = ()
    agreed: str | None = None  # by what the scope was last agreed
    fix: str = ""


def check_scope(use_case: UseCase) -> ScopeResult:
    """Does the scope on disk equal the last agreed one? (Enforced in `poc` and `pilot`.)"""
    name, charter = use_case.name, use_case.config.charter
    if charter is None:
        return ScopeResult(name, True, "no charter yet: nothing to hold the scope to")
    agreement = read_agreement(name, use_case.root)
    agree_command = f"liftoff charter agree --use-case {name} --by NAME"
    if agreement is None:
        if charter.phase == "poc":
            return ScopeResult(name, True, "charter not agreed yet (poc): nothing to compare", fix=agree_command)
        return ScopeResult(name, False, f"phase {charter.phase} but the charter was never agreed", fix=agree_command)
    scope, agreed = agreed_scope(agreement)
    found = tuple(c for c in changes(scope, scope_of(use_case)) if not _new_criterion_at_its_default(c))
    if not found:
        return ScopeResult(name, True, f"unchanged since the {agreed}", agreed=agreed)
    listed = "; ".join(c.describe() for c in found)
    if charter.phase not in ENFORCED_PHASES:
        return ScopeResult(
            name, True, f"changed since the {agreed} (production: not enforced): {listed}", found, agreed
        )
    fix = f'liftoff charter amend --use-case {name} --by NAME --why "..."'
    return ScopeResult(name, False, f"changed since the {agreed} without an amendment: {listed}", found, agreed, fix)


def _load(use_case: str) -> UseCase:
    try:
        return load_use_case(use_case)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(help="The use case's charter: agree it, amend it, show it (charters/<use_case>.yaml).")
def charter() -> None:
    pass


@charter.command("agree", help="Record who agreed the charter, when, and a fingerprint of its scoped fields.")
@use_case_option()
@click.option("--by", "by", required=True, help="Who agreed it (name, or names).")
def agree_command(use_case: str, by: str) -> None:
    try:
        path = agree(_load(use_case), by)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"agreed: {display_path(path)} (commit it)")


@charter.command("amend", help="Agree to the scope as it is now: an amendment entry (date, by, what, why).")
@use_case_option()
@click.option("--by", "by", required=True, help="Who agreed the change.")
@click.option("--why", required=True, help="Why the scope changed.")
@click.option("--what", default=None, help="What changed (default: the changes found, field by field).")
def amend_command(use_case: str, by: str, why: str, what: str | None) -> None:
    try:
        covered = amend(_load(use_case), by, why, what)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"amended {display_path(agreement_path(use_case))} (commit it); it covers:")
    for change in covered:
        click.echo(f"  {change.describe()}")


@charter.command("show", help="The charter, its agreement and its amendments.")
@use_case_option()
def show_command(use_case: str) -> None:
    loaded = _load(use_case)
    if loaded.config.charter is None:
        raise click.ClickException(f"usecases/{use_case}.yaml has no `charter:` section")
    click.echo(yaml.safe_dump({"charter": loaded.config.charter.model_dump(mode="json")}, sort_keys=False).rstrip())
    try:
        agreement = read_agreement(use_case)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if agreement is None:
        click.echo(f"not agreed yet: liftoff charter agree --use-case {use_case} --by NAME")
        return
    click.echo(f"agreed by {agreement['agreed_by']} at {agreement['agreed_at']} ({agreement['fingerprint']})")
    for amendment in agreement.get("amendments") or []:
        click.echo(f"  amended {amendment['date']} by {amendment['by']}: {amendment['what']} (why: {amendment['why']})")


@click.group(help="Scope control: the charter's scoped fields against their agreement.")
def scope() -> None:
    pass


@scope.command(
    "check",
    help="Fail (poc, pilot) when a scoped field (outcome, exit criteria, prompt ids, allowed models, API routes) "
    "changed since the charter was agreed without an amendment.",
)
@use_case_option(every=True)
def check_command(use_case: str | None) -> None:
    try:
        use_cases = [load_use_case(use_case)] if use_case else load_all_use_cases()
        results = [check_scope(u) for u in use_cases]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    for result in results:
        click.echo(f"{'PASS' if result.ok else 'FAIL'}  {result.use_case}: {result.detail}")
        if result.fix:
            click.echo(f"      -> {result.fix}")
    failed = [r.use_case for r in results if not r.ok]
    if failed:
        raise click.ClickException(f"scope changed without an amendment: {', '.join(failed)}")
