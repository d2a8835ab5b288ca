"""`liftoff prompts ...`: publish, inspect, promote, roll back and canary prompt versions.

Works against local mode by default and against a deployed stack with `--stage` (the table name
comes from the stack's `PromptsTableName` output; AWS credentials from the usual chain)."""

from __future__ import annotations

import difflib
import functools
import getpass
import inspect
import json
import os
import subprocess
from dataclasses import asdict
from pathlib import Path

import boto3
import click
import yaml
from pydantic import ValidationError

from liftoff.deployed import require_local, stack_outputs
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import load_use_case
from liftoff.local import runtime
from liftoff.options import use_case_option
from service.dal.prompt_store import LIVE_ALIAS, PromptStore, PromptVersion
from service.logic import prompt_registry
from service.models.errors import BadRequest, ServiceError
from service.models.evidence import EvalEvidence
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

    @use_case_option()
    @click.option("--stage", default=None, help="Work on the deployed stack of this stage instead of local mode.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @functools.wraps(fn)
    def wrapper(use_case: str, stage: str | None, as_json: bool, **kwargs):
        if "stage" in inspect.signature(fn).parameters:
            kwargs["stage"] = stage  # the commands that gate on evidence: a deployed stage wants a real model
        try:
            result = fn(open_store(use_case, stage), use_case=use_case, **kwargs)
        except (ServiceError, ConfigError) as exc:
            raise click.ClickException(getattr(exc, "message", str(exc))) from exc
        if as_json:
            click.echo(json.dumps(result["data"], indent=2, default=str))
        else:
            click.echo(result["text"])

    return wrapper


class _PromptDumper(yaml.SafeDumper):
    """Writes a multi-line string as a `|` block, as prompt files are written (safe_dump quoted and folded
    them, so `prompts show` and `prompts diff` did not look like the file)."""


def _block_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    block = "\n" in value and not any(line != line.rstrip() for line in value.splitlines())
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if block else None)


_PromptDumper.add_representer(str, _block_str)


def spec_yaml(version: PromptVersion) -> str:
    return yaml.dump(
        version.spec.model_dump(mode="json"), Dumper=_PromptDumper, sort_keys=False, allow_unicode=True, width=120
    )


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
    text += [f"alias {alias}:"] + [move_text(m) for m in moves]
    data = {"versions": [{k: v for k, v in asdict(x).items() if k != "spec"} for x in versions], "alias_moves": moves}
    return {"data": data, "text": "\n".join(text)}


def move_text(move: dict) -> str:
    """One line of an alias's history: the move, the canary it started, the evidence behind it."""
    line = f"  {move['at']}  {move['action']:<13} -> v{move['version']}  by {move['by']}"
    if move.get("canary"):
        line += f"  canary v{move['canary']['version']} at {move['canary']['weight']}%"
    evidence = move.get("evidence") or {}
    if "passed" in evidence:
        source = "simulator" if evidence["simulated"] else "real model"
        source += ", sample" if evidence.get("sample") else ""
        line += (
            f"  eval {'PASS' if evidence['passed'] else 'FAIL'} on {evidence['target']} ({source}) {evidence['report']}"
        )
    if evidence.get("forced"):
        line += f"  FORCED: {evidence['reason']}"
    if move.get("note"):
        line += f"  ({move['note']})"
    return line


def force_options(fn):
    """--force --reason: move a version that has no passing eval record; the reason is kept in the history."""
    fn = click.option("--reason", default=None, help="With --force: why (kept in the alias history, with your name).")(
        fn
    )
    return click.option(
        "--force", is_flag=True, help="Move the version without a passing eval record (needs --reason)."
    )(fn)


def _force_reason(force: bool, reason: str | None) -> str | None:
    if force and not (reason or "").strip():
        raise click.UsageError("--force needs --reason TEXT: the alias history keeps why it was forced")
    if reason is not None and not force:
        raise click.UsageError("--reason goes with --force")
    return reason.strip() if force else None


@prompts.command(
    "promote",
    help="Point an alias at a version (ends any canary). Live within the cache TTL. Needs a passing eval record "
    "of that exact version and content (`liftoff eval run --version N`; on a stage, from a real model).",
)
@click.argument("prompt_id")
@click.argument("version_arg", metavar="[VERSION]", type=click.IntRange(1), required=False)
@click.option(
    "--version", "number", type=click.IntRange(1), default=None, help="The version (or give it after the id)."
)
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@force_options
@registry_command
def promote(
    store: PromptStore,
    *,
    use_case: str,
    prompt_id: str,
    version_arg: int | None,
    number: int | None,
    alias: str,
    force: bool,
    reason: str | None,
    stage: str | None,
):
    if (version_arg is None) == (number is None):
        raise click.UsageError("give the version once: liftoff prompts promote ID N (or --version N)")
    number = number or version_arg
    proof = prompt_registry.prove(
        store, prompt_id, number, stage=stage, force_reason=_force_reason(force, reason), unmet=_unmet(use_case)
    )
    moved = prompt_registry.promote(store, prompt_id, version=number, alias=alias, author=current_author(), proof=proof)
    return {"data": asdict(moved), "text": f"{prompt_id}: {_alias_text(moved)}\n{_proof_text(proof)}"}


def _unmet(use_case: str):
    """What of an eval record falls short of the use case's exit criteria as they are today."""
    from liftoff.evals.evidence import unmet_today

    try:
        criteria = load_use_case(use_case).config.exit_criteria
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return lambda record: unmet_today(record, criteria)


def _proof_text(proof: prompt_registry.Proof) -> str:
    if proof.reason is not None:
        return f"forced by {current_author()}: {proof.reason} (kept in the alias history)"
    e = proof.evidence
    source = ("the Bedrock simulator" if e.simulated else "a real model") + (
        ", a sample of the eval set" if e.sample else ""
    )
    return f"evidence: eval PASS on {e.target} ({source}) at {e.created}, {e.report}"


@prompts.command(
    "rollback",
    help="Step an alias back: end its canary (it keeps the stable version), or else point it at the version it "
    "served before the current one; each rollback goes one further back (v3, v2, v1). --to N picks one it served.",
)
@click.argument("prompt_id")
@click.option(
    "--to", "to", type=click.IntRange(1), default=None, help="Roll back to this version (one the alias served)."
)
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@registry_command
def rollback(store: PromptStore, *, use_case: str, prompt_id: str, to: int | None, alias: str):
    moved = prompt_registry.rollback(store, prompt_id, alias=alias, author=current_author(), to=to)
    return {"data": asdict(moved), "text": f"{prompt_id}: rolled back, {_alias_text(moved)}"}


def _moved_to(pointer) -> set[int]:
    """Every version the alias served or ran a canary of, as its history remembers."""
    return {int(e["version"]) for e in pointer.history} | {
        int(e["canary"]["version"]) for e in pointer.history if e.get("canary")
    }


def pending_versions(store: PromptStore, alias: str = LIVE_ALIAS) -> list[dict]:
    """Prompts whose latest version the alias has never served nor run a canary of: what a deploy (or a
    publish) added since, waiting for its eval and canary. A version rolled back (or whose canary ended)
    is not pending again: the next deploy must not start it again; a person promotes or canaries it."""
    rows = []
    for pid in store.list_prompt_ids():
        latest, pointer = store.latest_version(pid), store.get_alias(pid, alias)
        if latest is None or pointer is None or latest.version in _moved_to(pointer) | {pointer.canary_version}:
            continue
        records = prompt_registry.accepted_evidence(store, latest, deployed=False)
        rows.append(
            {
                "prompt_id": pid,
                "version": latest.version,
                "content_hash": latest.content_hash,
                "live": pointer.version,
                "evidence": records[0].to_dict() if records else None,
            }
        )
    return rows


@prompts.command(
    "pending",
    help="Versions published since live (a deploy publishes a changed file, live stays): each waits for its eval. "
    "A version live served or ran a canary of (then rolled back) is not pending again.",
)
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@registry_command
def pending(store: PromptStore, *, use_case: str, alias: str):
    rows = pending_versions(store, alias)
    lines = [
        f"{r['prompt_id']}: v{r['version']} (sha256:{r['content_hash'][:12]}) waits, {alias} serves v{r['live']}; "
        + (
            f"newest eval {'PASS' if r['evidence']['passed'] else 'FAIL'} ({r['evidence']['report']})"
            if r["evidence"]
            else "not evaluated yet"
        )
        for r in rows
    ]
    return {
        "data": rows,
        "text": "\n".join(lines) or f"nothing pending: {alias} serves the latest version of every prompt",
    }


@prompts.command(
    "canary",
    help="Route WEIGHT % of the alias's unpinned requests to a version; --abort ends a running canary. Needs a "
    "passing eval record of that version, like promote. --pending starts it on every version waiting since live.",
)
@click.argument("prompt_id", required=False)
@click.option("--version", "number", type=int, default=None, help="The canary version (not with --abort).")
@click.option(
    "--pending", "pending_only", is_flag=True, help="Every prompt's version published since live (the deploy gate)."
)
@click.option("--weight", type=click.IntRange(1, 99), default=None, help="Percentage, 1-99 (not with --abort).")
@click.option("--abort", is_flag=True, help="End the canary: every request goes to the stable version again.")
@click.option(
    "--auto-rollback/--no-auto-rollback",
    default=True,
    show_default=True,
    help="End the canary by itself when one of its alarms fires (error rate, latency, golden accuracy).",
)
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@force_options
@registry_command
def canary(
    store: PromptStore,
    *,
    use_case: str,
    prompt_id: str | None,
    number: int | None,
    pending_only: bool,
    weight: int | None,
    abort: bool,
    auto_rollback: bool,
    alias: str,
    force: bool,
    reason: str | None,
    stage: str | None,
):
    forced = _force_reason(force, reason)
    if pending_only:
        if prompt_id is not None or number is not None or abort:
            raise BadRequest("--pending picks the prompts and versions itself: give only --weight with it")
        return _canary_pending(
            store, weight=weight, alias=alias, auto_rollback=auto_rollback, stage=stage, forced=forced
        )
    if prompt_id is None:
        raise BadRequest("name the prompt (liftoff prompts canary PROMPT_ID ...), or pass --pending")
    if abort:
        if number is not None or weight is not None:
            raise BadRequest("--abort ends the running canary: give no --version or --weight with it")
        moved = prompt_registry.abort_canary(store, prompt_id, alias=alias, author=current_author())
        return {"data": asdict(moved), "text": f"{prompt_id}: canary aborted, {_alias_text(moved)}"}
    if number is None or weight is None:
        raise BadRequest("give --version and --weight to start a canary, or --abort to end one")
    proof = prompt_registry.prove(store, prompt_id, number, stage=stage, force_reason=forced, unmet=_unmet(use_case))
    moved = prompt_registry.start_canary(
        store,
        prompt_id,
        version=number,
        weight=weight,
        alias=alias,
        author=current_author(),
        proof=proof,
        auto_rollback=auto_rollback,
    )
    return {"data": asdict(moved), "text": f"{prompt_id}: {_alias_text(moved)}\n{_proof_text(proof)}"}


def _canary_pending(
    store: PromptStore, *, weight: int | None, alias: str, auto_rollback: bool, stage: str | None, forced: str | None
):
    """A canary on each pending version; every one is proved before any alias moves."""
    if weight is None:
        raise BadRequest("give --weight with --pending")
    waiting = pending_versions(store, alias)
    proofs = [
        prompt_registry.prove(
            store, r["prompt_id"], r["version"], stage=stage, force_reason=forced, unmet=_unmet(store.use_case)
        )
        for r in waiting
    ]
    moved = [
        prompt_registry.start_canary(
            store,
            r["prompt_id"],
            version=r["version"],
            weight=weight,
            alias=alias,
            author=current_author(),
            proof=proof,
            auto_rollback=auto_rollback,
        )
        for r, proof in zip(waiting, proofs, strict=True)
    ]
    text = "\n".join(f"{m.prompt_id}: {_alias_text(m)}\n{_proof_text(p)}" for m, p in zip(moved, proofs, strict=True))
    return {
        "data": [asdict(m) for m in moved],
        "text": text or f"nothing pending: {alias} serves the latest version of every prompt",
    }


def export_alias(store: PromptStore, use_case: str, alias: str = LIVE_ALIAS, *, deployed: bool) -> dict:
    """What `alias` serves for every prompt, with each version's content hash and the newest eval record
    of it that counts here (what an import into another stage requires)."""
    exported = []
    for pid in store.list_prompt_ids():
        pointer = store.get_alias(pid, alias)
        if pointer is None:
            continue
        version = _version_or_fail(store, pid, pointer.version)
        records = prompt_registry.accepted_evidence(store, version, deployed=deployed)
        exported.append(
            {
                "prompt_id": pid,
                "version": version.version,
                "content_hash": version.content_hash,
                "spec": version.spec.model_dump(mode="json"),
                "evidence": records[0].to_dict() if records else None,
            }
        )
    return {"use_case": use_case, "alias": alias, "prompts": exported}


_EXPORT_ITEM = {"prompt_id": str, "version": int, "content_hash": str, "spec": dict}


def read_export(file: Path) -> dict:
    """An export file, or a plain error saying what is wrong with it (never a traceback)."""
    redo = "write it again with `liftoff prompts export --stage S --out FILE`"
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"{file.name} is not a readable JSON export ({exc}): {redo}") from exc
    if not (
        isinstance(document, dict)
        and isinstance(document.get("use_case"), str)
        and isinstance(document.get("alias"), str)
        and isinstance(document.get("prompts"), list)
    ):
        raise click.ClickException(f"{file.name} is not a prompts export (use_case, alias, prompts): {redo}")
    for n, item in enumerate(document["prompts"], 1):
        wrong = [
            k for k, kind in _EXPORT_ITEM.items() if not isinstance(item, dict) or not isinstance(item.get(k), kind)
        ]
        if wrong:
            raise click.ClickException(f"{file.name}: prompt {n} lacks {', '.join(wrong)}: {redo}")
    return document


def _exported_proof(
    item: dict, source: str, *, use_case: str, deployed: bool, force_reason: str | None
) -> prompt_registry.Proof:
    """The eval record the export carries for an item's content, if it counts here (on a stage: a passing
    run of the whole eval set on a real model), else the forced reason, else a refusal naming the command."""
    record = item.get("evidence")
    try:
        evidence = EvalEvidence.from_dict(record) if isinstance(record, dict) else None
    except (KeyError, TypeError):
        evidence = None  # not a record this version of liftoff reads: no evidence
    if (
        evidence is not None
        and evidence.passed
        and evidence.content_hash == item["content_hash"]
        and (evidence.conclusive or not deployed)
    ):
        return prompt_registry.Proof(evidence)
    if force_reason is not None:
        return prompt_registry.Proof(evidence, force_reason)
    kind = " of the whole eval set on a real model" if deployed else ""
    command = prompt_registry.eval_command(use_case, item["version"], "S")
    raise click.ClickException(
        f"{source}: {item['prompt_id']} v{item['version']} (sha256:{item['content_hash'][:12]}) has no passing eval "
        f"record{kind} where it was exported: run `{command}` on the stage it came from and export again "
        "(or import with --force --reason TEXT, which the alias history keeps)"
    )


def import_export(
    store: PromptStore,
    use_case: str,
    document: dict,
    *,
    author: str,
    source: str,
    deployed: bool,
    force_reason: str | None = None,
) -> list[dict]:
    """Publish each exported version here (identical content is a no-op) and point the alias at it, when
    the export carries a passing eval record of its content that counts here (or with a forced reason).
    Version numbers differ between stages; the content hash is what travels and is checked. Every item is
    checked before anything is published."""
    if document.get("use_case") != use_case:
        raise click.ClickException(f"{source} holds prompts of `{document.get('use_case')}`, not `{use_case}`")
    checked = []
    for item in document["prompts"]:
        try:
            spec = PromptSpec.model_validate(item["spec"])
        except ValidationError as exc:
            raise click.ClickException(
                f"{source}: {item['prompt_id']} is not a valid prompt ({exc.error_count()} error(s): "
                f"{exc.errors()[0]['msg']}); write it again with `liftoff prompts export --stage S --out FILE`"
            ) from exc
        if spec.content_hash() != item["content_hash"]:
            raise click.ClickException(f"{source}: {item['prompt_id']} was changed after export (content hash differs)")
        alias = store.get_alias(spec.prompt_id, document["alias"])
        serving = (
            alias is not None and store.get_version(spec.prompt_id, alias.version).content_hash == item["content_hash"]
        )
        proof = (
            None
            if serving
            else _exported_proof(item, source, use_case=use_case, deployed=deployed, force_reason=force_reason)
        )
        checked.append((item, spec, proof))
    results = []
    for item, spec, proof in checked:
        published = store.publish(spec, author=author, message=f"imported from {source} (v{item['version']} there)")
        alias = store.get_alias(spec.prompt_id, document["alias"])
        if proof is not None and (alias is None or alias.version != published.version):
            prompt_registry.promote(
                store,
                spec.prompt_id,
                version=published.version,
                alias=document["alias"],
                author=author,
                proof=proof,
                note=f"imported from {source}, where v{item['version']} serves",
            )
        results.append({"prompt_id": spec.prompt_id, "version": published.version, "created": published.created})
    return results


@prompts.command(
    "export", help="Write what alias `live` serves (every prompt) to a file, to import into another stage."
)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--alias", default=LIVE_ALIAS, show_default=True)
@registry_command
def export(store: PromptStore, *, use_case: str, out: Path, alias: str, stage: str | None):
    document = export_alias(store, use_case, alias, deployed=stage is not None)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    lines = [f"{p['prompt_id']} v{p['version']}" for p in document["prompts"]]
    return {"data": document, "text": f"exported {alias} of {len(lines)} prompt(s) to {out}: {', '.join(lines)}"}


@prompts.command(
    "import",
    help="Publish the prompts of an export file here and point its alias at them: each needs the passing eval "
    "record the export carries (into a stage: the whole eval set on a real model), or --force --reason.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@force_options
@registry_command
def import_(store: PromptStore, *, use_case: str, file: Path, force: bool, reason: str | None, stage: str | None):
    forced = _force_reason(force, reason)
    document = read_export(file)
    results = import_export(
        store,
        use_case,
        document,
        author=current_author(),
        source=file.name,
        deployed=stage is not None,
        force_reason=forced,
    )
    text = "\n".join(
        f"{r['prompt_id']}: {document['alias']} -> v{r['version']}"
        + (" (new version)" if r["created"] else " (same content)")
        for r in results
    )
    return {"data": results, "text": text}
