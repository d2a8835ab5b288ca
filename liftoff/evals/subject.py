"""What an eval run evaluates: one prompt, as one published version (`--version N`, or the version an
alias serves: `--alias A`, `live` by default) or as the working-copy file (`--working-copy`, not
published: labelled so). A run pinned to a version asks the API for exactly that version, so a canary
running on the alias never mixes two versions into one report."""

from __future__ import annotations

from dataclasses import dataclass

import click

from service.dal.prompt_store import LIVE_ALIAS, PromptStore
from service.models.prompt import PromptSpec

UNPUBLISHED = "unpublished"


@dataclass(frozen=True)
class Subject:
    prompt_id: str
    spec: PromptSpec
    version: int | None  # None: the working-copy file
    alias: str | None  # the alias the version was read from
    content_hash: str
    canary_note: str = ""  # the alias runs a canary on another version, which this run does not evaluate

    @property
    def label(self) -> str:
        if self.version is None:
            return f"{self.prompt_id} working copy ({UNPUBLISHED}), sha256:{self.content_hash[:12]}"
        via = f" (alias {self.alias})" if self.alias else ""
        return f"{self.prompt_id} v{self.version}{via}, sha256:{self.content_hash[:12]}"


def working_copy(spec: PromptSpec) -> Subject:
    """The prompt file as it is now; its hash is computed exactly as publishing computes it."""
    return Subject(spec.prompt_id, spec, None, None, spec.content_hash())


def published(store: PromptStore, prompt_id: str, *, version: int | None, alias: str | None, where: str) -> Subject:
    """A version of the registry (`where` names it in errors): `version`, or the stable version `alias`
    (default live) points at."""
    note = ""
    if version is None:
        name = alias = alias or LIVE_ALIAS
        pointer = store.get_alias(prompt_id, name)
        if pointer is None:
            raise click.ClickException(
                f"prompt `{prompt_id}` has no alias `{name}` in {where}: "
                f"publish it (`liftoff prompts publish {prompt_id}`) or pass --version N"
            )
        version = pointer.version
        if pointer.canary_version is not None:
            note = (
                f"alias {name} runs a canary of v{pointer.canary_version} at {pointer.canary_weight}%: this run "
                f"evaluates v{version} only (evaluate the canary with --version {pointer.canary_version})"
            )
    found = store.get_version(prompt_id, version)
    if found is None:
        latest = store.latest_version(prompt_id)
        hint = f"the latest is v{latest.version}" if latest else f"publish it: liftoff prompts publish {prompt_id}"
        raise click.ClickException(f"prompt `{prompt_id}` has no version {version} in {where} ({hint})")
    return Subject(prompt_id, found.spec, found.version, alias, found.content_hash, note)
