"""`liftoff prompts ...`: publish, inspect, promote, roll back and canary prompt versions.

Works against local mode by default and against a deployed stack with `--stage` (the table name
comes from the stack's `PromptsTableName` output; AWS credentials from the usual chain)."""

from __future__ import annotations

import difflib
import functools
import getpass
import json
import os
import subprocess
from dataclasses import asdict
from pathlib import Path

import boto3
import click
import yaml

from liftoff.deployed import require_local, stack_outputs
from liftoff.errors import ConfigError
from liftoff.local import runtime
from liftoff.usecases import load_use_case
from service.dal.prompt_store import LIVE_ALIAS, PromptStore, PromptVersion
from service.logic import prompt_registry
from service.models.errors import BadRequest, ServiceError
from service.models.prompt import PromptSpec


def current_author() -> str:
    """Who is making the change: $LIFTOFF_AUTHOR, else git's user.name, else the login name."""
    if os.environ.get("LIFTOFF_AUTHOR"):
        return os.environ["LIFTOFF_AUTHOR"]
    try:
        name = subprocess.run(
            ["git", "config", "user.name"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name or getpass.getuser()


def open_store(use_case: str, stage: str | None) -> PromptStore:
    if stage is None:
        state = require_local(use_case, "pass --stage to work against a deployed stack")
        return PromptStore(runtime.local_table(state, state.table_name), use_case)
    outputs = stack_outputs(use_case, stage, required="PromptsTableName")
    return PromptStore(boto3.resource("dynamodb").Table(outputs["PromptsTableName"]), use_case)


def registry_command(fn):
    """Common options, store opening and error reporting for every `prompts` subcommand."""

    @click.option("--use-case", default="support-triage", show_default=True, help="usecases/NAME.yaml")
    @click.option("--stage", default=None, help="Work on the deployed stack of this stage instead of local mode.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @functools.wraps(fn)
    def wrapper(use_case: str, stage: str | None, as_json: bool, **kwargs):
        try:
            result = fn(open_store(use_case, stage), use_case=use_case, **kwargs)
        except (ServiceError, ConfigError) as exc:
            raise click.ClickException(getattr(exc, "message", str(exc))) from exc
        if as_json:
            click.echo(json.dumps(result["data"], indent=2, default=str))
        else:
            click.echo(result["text"])

    return wrapper


def spec_yaml(version: PromptVersion) -> str:
    return yaml.safe_dump(version.spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _version_or_fail(store: PromptStore, prompt_id: str, number: int) -> PromptVersion:
    found = store.get_version(prompt_id, number)
    if found is None:
        raise click.ClickException(f"prompt `{prompt_id}` has no version {number}")
    return found


def _alias_text(alias) -> str:
    canary = f", canary v{alias.canary_version} at {alias.canary_weight}%" if alias.canary_version else ""
    return f"{alias.name} -> v{alias.version}{canary} (revision {alias.revision})"


@click.group(help="Prompt registry: immutable versions, aliases (live, canary), promote and rollback.")
def prompts() -> None:
    pass


@prompts.command("publish", help="Publish changed prompt files as new versions (identical content is a no-op).")
@click.argument("prompt_id", required=False)
@click.option("--message", "-m", default="", help="Why this version exists.")
@registry_command
def publish(store: PromptStore, *, use_case: str, prompt_id: str | None, message: str):
    specs = [s for s in load_use_case(use_case).prompts if prompt_id in (None, s.prompt_id)]
    if not specs:
        raise click.ClickException(f"no prompt file prompts/{use_case}/{prompt_id}.yaml")
    results = [store.publish(s, author=current_author(), message=message) for s in specs]
    lines = [
        f"{r.prompt_id}: published v{r.version}" + (" (live set: first version)" if r.live_set else "")
        if r.created
        else f"{r.prompt_id}: unchanged, still v{r.version} (nothing published)"
        for r in results
    ]
    return {"data": [asdict(r) for r in results], "text": "\n".join(lines)}


@prompts.command("list", help="Every prompt with its latest version and where `live` points.")
@registry_command
def list_prompts(store: PromptStore, *, use_case: str):
    rows = []
    for pid in store.list_prompt_ids():
        live = store.get_alias(pid, LIVE_ALIAS)
        latest = store.latest_version(pid)
        rows.append(
            {
                "prompt_id": pid,
                "latest": latest.version if latest else None,
                "live": live.version if live else None,
                "canary": {"version": live.canary_version, "weight": live.canary_weight}
                if live and live.canary_version
                else None,
            }
        )
    text = "\n".join(
        f"{r['prompt_id']:<24} latest v{r['latest']}  live v{r['live']}"
        + (f"  canary v{r['canary']['version']} at {r['canary']['weight']}%" if r["canary"] else "")
        for r in rows
    )
    return {"data": rows, "text": text or "no prompts published yet (liftoff prompts publish)"}


@prompts.command("show", help="Show one version (default: what alias `live` points at).")
@click.argument("prompt_id")
@click.option("--version", "number", type=int, help="Version number.")
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@registry_command
def show(store: PromptStore, *, use_case: str, prompt_id: str, number: int | None, alias: str):
    if number is None:
        pointer = store.get_alias(prompt_id, alias)
        if pointer is None:
            raise click.ClickException(f"prompt `{prompt_id}` has no alias `{alias}`")
        number = pointer.version
    version = _version_or_fail(store, prompt_id, number)
    header = f"# {prompt_id} v{version.version} by {version.author} at {version.created_at}: {version.message or '-'}\n"
    return {
        "data": {**asdict(version), "spec": version.spec.model_dump(mode="json")},
        "text": header + spec_yaml(version),
    }


@prompts.command("diff", help="Unified diff between two versions: liftoff prompts diff ID 1 2")
@click.argument("prompt_id")
@click.argument("old", type=int)
@click.argument("new", type=int)
@registry_command
def diff(store: PromptStore, *, use_case: str, prompt_id: str, old: int, new: int):
    a, b = _version_or_fail(store, prompt_id, old), _version_or_fail(store, prompt_id, new)
    lines = list(
        difflib.unified_diff(
            spec_yaml(a).splitlines(),
            spec_yaml(b).splitlines(),
            f"{prompt_id} v{old}",
            f"{prompt_id} v{new}",
            lineterm="",
        )
    )
    return {"data": lines, "text": "\n".join(lines) or f"v{old} and v{new} have the same content"}


@prompts.command("history", help="Versions of a prompt and every move of an alias.")
@click.argument("prompt_id")
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@registry_command
def history(store: PromptStore, *, use_case: str, prompt_id: str, alias: str):
    versions = store.list_versions(prompt_id)
    if not versions:
        raise click.ClickException(f"prompt `{prompt_id}` has no versions")
    pointer = store.get_alias(prompt_id, alias)
    moves = pointer.history if pointer else []
    text = ["versions:"] + [
        f"  v{v.version}  {v.created_at}  {v.author}  {v.message or '-'}  sha256:{v.content_hash[:12]}"
        for v in versions
    ]
    text += [f"alias {alias}:"] + [
        f"  {m['at']}  {m['action']:<13} -> v{m['version']}  by {m['by']}"
        + (f"  ({m['note']})" if m.get("note") else "")
        for m in moves
    ]
    data = {"versions": [{k: v for k, v in asdict(x).items() if k != "spec"} for x in versions], "alias_moves": moves}
    return {"data": data, "text": "\n".join(text)}


@prompts.command("promote", help="Point an alias at a version (ends any canary). Live within the cache TTL.")
@click.argument("prompt_id")
@click.option("--version", "number", type=int, required=True)
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@registry_command
def promote(store: PromptStore, *, use_case: str, prompt_id: str, number: int, alias: str):
    moved = prompt_registry.promote(store, prompt_id, version=number, alias=alias, author=current_author())
    return {"data": asdict(moved), "text": f"{prompt_id}: {_alias_text(moved)}"}


@prompts.command(
    "rollback",
    help="Undo an alias's last move: end its canary (it keeps the stable version), or else point it back at the "
    "version it served before.",
)
@click.argument("prompt_id")
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@registry_command
def rollback(store: PromptStore, *, use_case: str, prompt_id: str, alias: str):
    moved = prompt_registry.rollback(store, prompt_id, alias=alias, author=current_author())
    return {"data": asdict(moved), "text": f"{prompt_id}: rolled back, {_alias_text(moved)}"}


@prompts.command(
    "canary", help="Route WEIGHT % of the alias's unpinned requests to a version; --abort ends a running canary."
)
@click.argument("prompt_id")
@click.option("--version", "number", type=int, default=None, help="The canary version (not with --abort).")
@click.option("--weight", type=click.IntRange(1, 99), default=None, help="Percentage, 1-99 (not with --abort).")
@click.option("--abort", is_flag=True, help="End the canary: every request goes to the stable version again.")
@click.option(
    "--auto-rollback/--no-auto-rollback",
    default=True,
    show_default=True,
    help="End the canary by itself when one of its alarms fires (error rate, latency, golden accuracy).",
)
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@registry_command
def canary(
    store: PromptStore,
    *,
    use_case: str,
    prompt_id: str,
    number: int | None,
    weight: int | None,
    abort: bool,
    auto_rollback: bool,
    alias: str,
):
    if abort:
        if number is not None or weight is not None:
            raise BadRequest("--abort ends the running canary: give no --version or --weight with it")
        moved = prompt_registry.abort_canary(store, prompt_id, alias=alias, author=current_author())
        return {"data": asdict(moved), "text": f"{prompt_id}: canary aborted, {_alias_text(moved)}"}
    if number is None or weight is None:
        raise BadRequest("give --version and --weight to start a canary, or --abort to end one")
    moved = prompt_registry.start_canary(
        store,
        prompt_id,
        version=number,
        weight=weight,
        alias=alias,
        author=current_author(),
        auto_rollback=auto_rollback,
    )
    return {"data": asdict(moved), "text": f"{prompt_id}: {_alias_text(moved)}"}


def export_alias(store: PromptStore, use_case: str, alias: str = LIVE_ALIAS) -> dict:
    """What `alias` serves for every prompt, with each version's content hash."""
    exported = []
    for pid in store.list_prompt_ids():
        pointer = store.get_alias(pid, alias)
        if pointer is None:
            continue
        version = _version_or_fail(store, pid, pointer.version)
        exported.append(
            {
                "prompt_id": pid,
                "version": version.version,
                "content_hash": version.content_hash,
                "spec": version.spec.model_dump(mode="json"),
            }
        )
    return {"use_case": use_case, "alias": alias, "prompts": exported}


def import_export(store: PromptStore, use_case: str, document: dict, *, author: str, source: str) -> list[dict]:
    """Publish each exported version here (identical content is a no-op) and point the alias at it.
    Version numbers differ between stages; the content hash is what travels and is checked."""
    if document.get("use_case") != use_case:
        raise click.ClickException(f"{source} holds prompts of `{document.get('use_case')}`, not `{use_case}`")
    results = []
    for item in document["prompts"]:
        spec = PromptSpec.model_validate(item["spec"])
        if spec.content_hash() != item["content_hash"]:
            raise click.ClickException(f"{source}: {item['prompt_id']} was changed after export (content hash differs)")
        published = store.publish(spec, author=author, message=f"imported from {source} (v{item['version']} there)")
        alias = store.get_alias(spec.prompt_id, document["alias"])
        if alias is None or alias.version != published.version:
            prompt_registry.promote(
                store, spec.prompt_id, version=published.version, alias=document["alias"], author=author
            )
        results.append({"prompt_id": spec.prompt_id, "version": published.version, "created": published.created})
    return results


@prompts.command(
    "export", help="Write what alias `live` serves (every prompt) to a file, to import into another stage."
)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@registry_command
def export(store: PromptStore, *, use_case: str, out: Path, alias: str):
    document = export_alias(store, use_case, alias)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    lines = [f"{p['prompt_id']} v{p['version']}" for p in document["prompts"]]
    return {"data": document, "text": f"exported {alias} of {len(lines)} prompt(s) to {out}: {', '.join(lines)}"}


@prompts.command("import", help="Publish the prompts of an export file here and point its alias at them.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@registry_command
def import_(store: PromptStore, *, use_case: str, file: Path):
    document = json.loads(file.read_text(encoding="utf-8"))
    results = import_export(store, use_case, document, author=current_author(), source=file.name)
    text = "\n".join(
        f"{r['prompt_id']}: {document['alias']} -> v{r['version']}"
        + (" (new version)" if r["created"] else " (same content)")
        for r in results
    )
    return {"data": results, "text": text}
