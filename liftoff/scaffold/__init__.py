"""`liftoff new-use-case NAME`: a new use case in one step, with nothing to edit by hand to run it.

Writes `usecases/NAME.yaml`, `prompts/NAME/*.yaml`, `evals/NAME/suite.yaml` and
`evals/NAME/clean.jsonl`, either from the built-in starter (a question answered from a given
context) or copied from an existing use case (`--from`), optionally on another model (`--model`).
`--retrieval` writes a retrieval use case instead: the starter's config with a `knowledge:` section
and the retrieval exit criteria, a prompt with `retrieval:` and a JSON answer citing passages,
example documents in `knowledge/NAME/` and an eval set with answerable and unanswerable questions.
Refuses a name that is not DNS-safe or already used, never overwrites, and validates what it wrote
(config, prompts, eval cases) before it reports success; on failure it removes what it wrote.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from liftoff import REPO_ROOT
from liftoff.foundation.config import USE_CASE_NAME
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.pricing import load_pricing, prices_for

STARTER = Path(__file__).resolve().parent / "starter"
# --retrieval: the files of a retrieval use case, and the fragments its config adds to the starter's
RETRIEVAL = Path(__file__).resolve().parent / "retrieval"
RETRIEVAL_FRAGMENTS = RETRIEVAL / "fragments"
STARTER_MODEL = "us.amazon.nova-micro-v1:0"
# What differs in the starter's config between the two shapes (retrieval adds Retrieve, the query embedding,
# the vector query and the grounding check's text units to every answer's cost)
STARTER_FIELDS = {
    False: {
        "description": "Answer a question using only the context given with it.",
        "max_cost_per_request_usd": "0.001",
        # 3 x (1 + 6) s + 3 s of backoff = 24 s of the 27 s the function may take
        "model_attempts": "3           # in all; attempts x (connect + read) + backoff must fit in API Gateway's 29 s",
    },
    True: {
        "description": "Answer questions from the documents in the knowledge base, citing them.",
        "max_cost_per_request_usd": "0.004",
        # Retrieve's 7 s (knowledge.*) come first: 7 + 2 x (1 + 6) s + 1 s = 22 s; 3 attempts would be 31 s
        "model_attempts": "2           # in all; retrieval + attempts x (connect + read) + backoff must fit in 27 s",
    },
}


@dataclass(frozen=True)
class Created:
    name: str
    files: list[Path]


def _targets(root: Path, name: str) -> dict[str, Path]:
    return {
        "config": root / "usecases" / f"{name}.yaml",
        "prompts": root / "prompts" / name,
        "evals": root / "evals" / name,
        "knowledge": root / "knowledge" / name,
    }


def check_name(name: str, root: Path) -> None:
    if not USE_CASE_NAME.match(name):
        raise ConfigError(
            f"`{name}` is not a valid use-case name: 3-40 characters of a-z, 0-9 and '-', starting with a "
            "letter and not ending with '-' (it becomes part of stack, table and alarm names)"
        )
    targets = _targets(root, name)
    taken = [p for p in targets.values() if p.exists()]
    if taken:
        left = (
            ""
            if targets["config"].exists()
            else f" (left by a removed use case? `liftoff remove-use-case {name}` removes it)"
        )
        raise ConfigError(
            f"use case `{name}` exists already ({', '.join(str(p) for p in taken)}){left}; nothing written"
        )


# a new use case's charter, and a copy's (who owns it, what it is for: agreed afresh), starts with these
CHARTER_PLACEHOLDERS = {
    "owner": "<who decides that this use case is done>",
    "stakeholders": "[<who agreed the outcome and the exit criteria>]",
    "outcome": "<the one outcome, in one sentence, what changes for whom>",
}


REVIEW_AFTER_DAYS = 90  # a scaffolded charter's review date: a quarter from today


def _render(text: str, name: str, model: str, retrieval: bool = False) -> str:
    review_by = (date.today() + timedelta(days=REVIEW_AFTER_DAYS)).isoformat()
    for field, placeholder in CHARTER_PLACEHOLDERS.items():
        text = text.replace(f"{{{{charter.{field}}}}}", placeholder)
    for field, value in STARTER_FIELDS[retrieval].items():
        text = text.replace(f"{{{{{field}}}}}", value)
    for fragment in ("exit_criteria", "knowledge"):  # a line of its own: the fragment, or nothing
        added = (RETRIEVAL_FRAGMENTS / f"{fragment}.yaml").read_text(encoding="utf-8") if retrieval else ""
        text = text.replace(f"{{{{retrieval.{fragment}}}}}\n", added)
    return text.replace("{{use_case}}", name).replace("{{model_id}}", model).replace("{{review_by}}", review_by)


def _starter_files(retrieval: bool) -> list[tuple[str, Path]]:
    """(path relative to the starter, file): the starter's config and, for a retrieval use case, the retrieval
    starter's prompt, eval set and documents in place of the starter's."""
    if not retrieval:
        return [(p.relative_to(STARTER).as_posix(), p) for p in sorted(STARTER.rglob("*")) if p.is_file()]
    files = [("usecase.yaml", STARTER / "usecase.yaml")]
    return files + [
        (p.relative_to(RETRIEVAL).as_posix(), p)
        for p in sorted(RETRIEVAL.rglob("*"))
        if p.is_file() and RETRIEVAL_FRAGMENTS not in p.parents
    ]


def _from_starter(root: Path, name: str, model: str, retrieval: bool = False) -> list[Path]:
    targets = _targets(root, name)
    written = []
    for relative, source in _starter_files(retrieval):
        if relative == "usecase.yaml":
            destination = targets["config"]
        else:  # prompts/..., evals/... and knowledge/... go under prompts/NAME/, evals/NAME/ and knowledge/NAME/
            top, rest = relative.split("/", 1)
            destination = targets[top] / rest
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(_render(source.read_text(encoding="utf-8"), name, model, retrieval), encoding="utf-8")
        written.append(destination)
    return written


def _from_existing(root: Path, name: str, source: str, model: str | None) -> list[Path]:
    from liftoff.foundation.usecases import UnknownUseCase, require_use_case

    try:
        require_use_case(source, root)
    except UnknownUseCase as exc:
        raise ConfigError(f"--from {source}: {exc}") from exc
    origin = _targets(root, source)
    targets = _targets(root, name)
    config = origin["config"].read_text(encoding="utf-8")
    config = re.sub(r"(?m)^name: .*$", f"name: {name}", config, count=1)
    config = _charter_placeholders(config)
    written = [targets["config"]]
    targets["config"].write_text(config, encoding="utf-8")
    shutil.copytree(origin["prompts"], targets["prompts"])
    written += sorted(targets["prompts"].glob("*.yaml"))
    targets["evals"].mkdir(parents=True)
    for file in ("suite.yaml", "clean.jsonl", "edge.jsonl"):
        if (origin["evals"] / file).exists():
            shutil.copy2(origin["evals"] / file, targets["evals"] / file)
            written.append(targets["evals"] / file)
    if model:
        _switch_model(targets["config"], sorted(targets["prompts"].glob("*.yaml")), model)
    return written


def _charter_placeholders(config: str) -> str:
    for field, placeholder in CHARTER_PLACEHOLDERS.items():
        config = re.sub(rf"(?m)^(  {field}: ).*$", lambda m, p=placeholder: m.group(1) + p, config, count=1)
    return config


def _switch_model(config_path: Path, prompt_paths: list[Path], model: str) -> None:
    """Make `model` the default and allowed model of the copied config, and the prompts' model."""
    text = config_path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(  default: ).*$", rf"\g<1>{model}", text, count=1)
    text = re.sub(r"(?m)^(  allowed:\n)((?:    - .*\n)+)", rf"\g<1>    - {model}\n", text, count=1)
    config_path.write_text(text, encoding="utf-8")
    for path in prompt_paths:
        prompt = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"(?m)^model_id: .*$", f"model_id: {model}", prompt, count=1), encoding="utf-8")


def new_use_case(
    name: str,
    *,
    source: str | None = None,
    model: str | None = None,
    retrieval: bool = False,
    root: Path = REPO_ROOT,
) -> Created:
    check_name(name, root)
    if source and retrieval:
        raise ConfigError("--retrieval writes the retrieval starter; --from copies a use case: give one of them")
    if model:
        prices_for([model], load_pricing())  # a model without a price is refused before anything is written
    try:
        files = (
            _from_existing(root, name, source, model)
            if source
            else _from_starter(root, name, model or STARTER_MODEL, retrieval)
        )
        validate(name, root)
    except Exception:
        for path in _targets(root, name).values():
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    return Created(name, files)


def validate(name: str, root: Path) -> None:
    """What synth and the eval harness will read: the config with its prompts, the eval set."""
    from liftoff.foundation.eval_cases import load_cases, load_suite
    from liftoff.foundation.usecases import load_use_case

    load_use_case(name, root)
    load_suite(name, root)
    load_cases(name, root=root)


def content_paths(name: str, root: Path = REPO_ROOT) -> list[Path]:
    """What a use case owns in the project (the team's content, never template code): its config, prompts, eval
    set, charter agreement and documents, plus its local reports and local-mode state; only those that exist (a
    symbolic link counts as itself, even when what it points to is gone) and that live in the project (not through
    a linked folder, and not a registry kept elsewhere by $LIFTOFF_LOCAL_REGISTRY_DIR, which other clones share)."""
    return [
        path for path in [*_content(name, root), *_local_state(name, root)] if _present(path) and _inside(path, root)
    ]


def _local_state(name: str, root: Path) -> list[Path]:
    from liftoff.local import runtime

    return [runtime.registry_file(name, root), runtime.log_file(name, root)]


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _inside(path: Path, root: Path) -> bool:
    """The entry itself is in the project: its folder, links resolved, is under the project's (the entry may be
    a link to elsewhere: deleting or moving it touches only the link)."""
    return (path.parent.resolve() / path.name).is_relative_to(root.resolve())


def left_outside(name: str, root: Path = REPO_ROOT) -> list[Path]:
    """The use case's content that is reached through a linked folder (knowledge/ linked to a shared store): not
    the project's to delete, so remove_use_case leaves it."""
    return [path for path in _content(name, root) if _present(path) and not _inside(path, root)]


def _content(name: str, root: Path) -> list[Path]:
    """Where a use case's own files are, in one order for every name (rename_use_case pairs them)."""
    from liftoff.charter import agreement_path

    return [
        *_targets(root, name).values(),
        agreement_path(name, root),
        root / "reports" / name,
    ]


def shown(path: Path, root: Path = REPO_ROOT) -> str:
    """A path as a command prints it: relative to the project when it is inside it."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def removal_plan(name: str, root: Path = REPO_ROOT) -> list[Path]:
    """What remove_use_case(name) deletes, before anything is: a name that is not a use-case name (a path never
    is) is refused, and so is one with no content (local state alone is no use case). What a use case left when
    its config was deleted by hand (prompts, evals, ...) is removable too: no other command can take that name."""
    from liftoff.foundation.usecases import require_use_case

    if not USE_CASE_NAME.match(name):
        require_use_case(name, root)  # UnknownUseCase: not a name, and the known ones
    paths = content_paths(name, root)
    if not any(path in paths for path in _content(name, root)):
        require_use_case(name, root)
    return paths


def _refuse_if_running(name: str, root: Path) -> None:
    from liftoff.local import runtime

    if runtime.is_running(runtime.read_state(name, root)):
        raise ConfigError(f"local mode of `{name}` is running: stop it first (liftoff local down --use-case {name})")


def _delete(path: Path) -> None:
    """A symbolic link is unlinked (what it points to is not the use case's); a folder goes with its content."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def remove_use_case(name: str, *, root: Path = REPO_ROOT) -> list[Path]:
    """The inverse of new_use_case: delete what removal_plan lists, and drop the project default when it named the
    use case. Everything that can refuse (the name, a running local mode, a cdk.json it cannot edit) is checked
    before the first deletion; returns what it removed."""
    paths = removal_plan(name, root)
    _refuse_if_running(name, root)
    cdk_json = _default_edited(root, name, None)
    removed: list[Path] = []
    for path in paths:
        try:
            _delete(path)
        except OSError as exc:
            done = ", ".join(shown(p, root) for p in removed) or "nothing"
            left = ", ".join(shown(p, root) for p in paths if p not in removed)
            raise ConfigError(
                f"cannot remove {shown(path, root)}: {exc}. Removed so far: {done}; still there: {left}. "
                f"Fix that, then run `liftoff remove-use-case {name}` again"
            ) from exc
        removed.append(path)
    if cdk_json is not None:
        (root / "cdk.json").write_text(cdk_json, encoding="utf-8")
        removed.append(root / "cdk.json")
    return removed


def _default_edited(root: Path, current: str, new: str | None) -> str | None:
    """cdk.json's text with the project default repointed from `current` to `new` (None: dropped), or None when it
    does not name `current`. Edits that one line, so the rest of the file (the template's feature flags) merges
    with the template's next release as it was; ConfigError (and nothing written) when it cannot."""
    from liftoff.foundation.usecases import DEFAULT_USE_CASE_KEY, project_default_use_case

    path = root / "cdk.json"
    if project_default_use_case(root) != current:
        return None
    text = path.read_text(encoding="utf-8")
    line = re.compile(
        rf'(?m)^([ \t]*"{re.escape(DEFAULT_USE_CASE_KEY)}"[ \t]*:[ \t]*)"{re.escape(current)}"(,?)[ \t]*\n'
    )
    found = line.search(text)
    if found is None:  # not written on a line of its own: say what to edit rather than rewrite the file
        then = f"set it to `{new}`" if new else "remove it"
        raise ConfigError(
            f"cdk.json: context `{DEFAULT_USE_CASE_KEY}` names `{current}` but not on a line of its own, so it is "
            f"not edited: {then} by hand, then run the command again; nothing changed"
        )
    if new is not None:
        return text[: found.start()] + f'{found.group(1)}"{new}"{found.group(2)}\n' + text[found.end() :]
    if found.group(2):
        return text[: found.start()] + text[found.end() :]
    before = text[: found.start()].rstrip()  # the last key of `context`: the comma before it goes too
    return before.removesuffix(",") + "\n" + text[found.end() :]


def check_rename(old: str, new: str, root: Path = REPO_ROOT) -> None:
    """ConfigError unless OLD is a use case and NEW a free, valid name other than OLD."""
    from liftoff.foundation.usecases import require_use_case

    require_use_case(old, root)
    if new == old:
        raise ConfigError(f"`{old}` is its own name already: give another NEW; nothing moved")
    check_name(new, root)


def rename_use_case(old: str, new: str, *, root: Path = REPO_ROOT) -> list[tuple[Path, Path | None]]:
    """Move a use case's content (content_paths) to a new name: the config's `name`, its prompts, eval set,
    charter agreement, documents and local reports, and the project default in cdk.json when it named it.
    The local registry and log (keyed by the old name) are dropped. Everything that can refuse (the names, a
    running local mode, a use case that does not load, a linked config, taken targets, cdk.json) is checked before
    the first move. Returns (from, to) pairs; to is None for what was dropped."""
    from liftoff.charter import agreement_path

    check_rename(old, new, root)
    _refuse_if_running(old, root)
    try:
        validate(old, root)
    except ConfigError as exc:
        raise ConfigError(f"`{old}` does not load, so it is not renamed (nothing moved): {exc}") from exc
    for edited in (root / "usecases" / f"{old}.yaml", agreement_path(old, root)):
        if edited.is_symlink() or (_present(edited) and not _inside(edited, root)):
            raise ConfigError(
                f"{shown(edited, root)} is a link to {edited.resolve()}: renaming edits the names in it, which would "
                "change a file outside the project. Put a copy in its place (cp --remove-destination), then rename; "
                "nothing moved"
            )
    moves = [
        (source, target)
        for source, target in zip(_content(old, root), _content(new, root), strict=True)
        if _present(source)
    ]
    if any(target.exists() for _, target in moves):
        taken = ", ".join(str(target) for _, target in moves if target.exists())
        raise ConfigError(f"`{new}` has content already ({taken}); nothing moved")
    cdk_json = _default_edited(root, old, new)
    done: list[tuple[Path, Path | None]] = []
    for source, target in moves:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            source.rename(target)
        except OSError as exc:
            moved = ", ".join(f"{shown(a, root)} -> {shown(b, root)}" for a, b in done) or "nothing"
            raise ConfigError(
                f"cannot move {shown(source, root)} to {shown(target, root)}: {exc}. Moved so far: {moved}; move "
                "those back (git status shows them), fix the cause, and run the command again"
            ) from exc
        done.append((source, target))
    config = root / "usecases" / f"{new}.yaml"
    text = re.sub(r"(?m)^name: .*$", f"name: {new}", config.read_text(encoding="utf-8"), count=1)
    # the documents' folder moved only if it was the default one: a path naming it exactly moves with it
    # (not `knowledge/OLD-v2`, which stayed where it was)
    text = re.sub(
        rf"(?m)^(\s*path:\s*)(['\"]?)knowledge/{re.escape(old)}/?\2(\s*(?:#.*)?)$",
        rf"\g<1>\g<2>knowledge/{new}\g<2>\g<3>",
        text,
    )
    config.write_text(text, encoding="utf-8")
    agreement = agreement_path(new, root)
    if agreement.exists():
        agreed = re.sub(r"(?m)^use_case: .*$", f"use_case: {new}", agreement.read_text(encoding="utf-8"), count=1)
        agreement.write_text(agreed, encoding="utf-8")
    for state in _local_state(old, root):  # keyed by the old name; a registry kept outside the project is not ours
        if _present(state) and _inside(state, root):
            state.unlink()
            done.append((state, None))
    if cdk_json is not None:
        (root / "cdk.json").write_text(cdk_json, encoding="utf-8")
        done.append((root / "cdk.json", root / "cdk.json"))
    validate(new, root)
    return done
