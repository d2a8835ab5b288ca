"""A use case on disk: `usecases/<name>.yaml` plus its prompt files `prompts/<name>/*.yaml`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from liftoff import REPO_ROOT
from liftoff.foundation.config import (
    UseCaseConfig,
    display_path,
    format_validation_error,
    load_use_case_config,
    read_yaml,
)
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.pricing import load_pricing, prices_for, structured_output_mechanism
from service.logic.cost import ModelPrice
from service.models.prompt import PromptSpec

USECASES_DIR = "usecases"
PROMPTS_DIR = "prompts"


@dataclass(frozen=True)
class UseCase:
    config: UseCaseConfig
    prompts: tuple[PromptSpec, ...]
    prices: dict[str, ModelPrice]
    root: Path = REPO_ROOT  # the project it was loaded from (its eval set is there too)

    @property
    def name(self) -> str:
        return self.config.name


def load_prompt_file(path: Path) -> PromptSpec:
    """Read one prompt file; its id is the file name. Errors name the file and the field."""
    data = read_yaml(path)
    declared_id = data.pop("prompt_id", path.stem)
    if declared_id != path.stem:
        raise ConfigError(
            f"{display_path(path)}: field `prompt_id` is `{declared_id}` but the file is `{path.stem}.yaml`"
        )
    output = data.get("output")
    if isinstance(output, dict) and "schema_file" in output:
        output = dict(output)
        schema_path = path.parent / str(output.pop("schema_file"))
        try:
            output["schema"] = json.loads(schema_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{display_path(path)}: field `output.schema_file`: cannot read {display_path(schema_path)} as JSON: {exc}"
            ) from exc
        data["output"] = output
    try:
        return PromptSpec.model_validate({"prompt_id": path.stem, **data})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from exc


def load_prompts(config: UseCaseConfig, root: Path = REPO_ROOT) -> tuple[PromptSpec, ...]:
    folder = root / PROMPTS_DIR / config.name
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{display_path(folder)}: no prompt files (*.yaml) for use case `{config.name}`")
    prompts = []
    for path in files:
        spec = load_prompt_file(path)
        if spec.model_id not in config.models.allowed:
            raise ConfigError(
                f"{display_path(path)}: field `model_id` is `{spec.model_id}`, which is not in `models.allowed` "
                f"of {USECASES_DIR}/{config.name}.yaml ({', '.join(config.models.allowed)})"
            )
        if spec.output.format == "json":
            _check_structured_output(path, spec, config)
        if spec.retrieval is not None:
            _check_retrieval(path, spec, config)
        prompts.append(spec)
    return tuple(prompts)


def _check_structured_output(path: Path, spec: PromptSpec, config: UseCaseConfig) -> None:
    """A JSON answer needs a model that can be asked for one (the prompt's, and the fallback that may
    answer instead): pricing/bedrock.yaml says which mechanism each model has."""
    table = load_pricing()
    for model_id in filter(None, (spec.model_id, config.models.fallback)):
        if structured_output_mechanism(model_id, table) == "none":
            raise ConfigError(
                f"{display_path(path)}: field `output.format` is `json`, but model `{model_id}` supports no structured "
                "output mechanism (pricing/bedrock.yaml `structured_output`); use `format: text` or another model"
            )


def _check_retrieval(path: Path, spec: PromptSpec, config: UseCaseConfig) -> None:
    """A prompt that retrieves needs the use case's knowledge base, and an answer that names its passages:
    JSON with `answer` (text) and `citations` (passage ids), so the service can hold each citation to a
    passage it retrieved."""
    if config.knowledge is None:
        raise ConfigError(
            f"{display_path(path)}: field `retrieval` is set, but {USECASES_DIR}/{config.name}.yaml has no "
            "`knowledge:` section to retrieve from: add one, or remove `retrieval`"
        )
    properties = (spec.output.schema_ or {}).get("properties", {}) if spec.output.format == "json" else {}
    answer, citations = properties.get("answer", {}), properties.get("citations", {})
    if answer.get("type") != "string" or citations.get("type") != "array":
        raise ConfigError(
            f"{display_path(path)}: field `output`: a prompt with `retrieval` answers JSON whose schema has "
            '`answer` (type string) and `citations` (type array of passage ids such as "P1"); '
            "set `output: {format: json, schema_file: ...}` with both"
        )


def use_case_names(root: Path = REPO_ROOT) -> list[str]:
    return sorted(p.stem for p in (root / USECASES_DIR).glob("*.yaml"))


def load_use_case(name: str, root: Path = REPO_ROOT) -> UseCase:
    path = root / USECASES_DIR / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(use_case_names(root)) or "none"
        raise ConfigError(f"no use case `{name}` ({USECASES_DIR}/{name}.yaml does not exist); known: {known}")
    config = load_use_case_config(path)
    prices = prices_for(list(config.models.allowed), load_pricing())
    return UseCase(config=config, prompts=load_prompts(config, root), prices=prices, root=root)


def load_all_use_cases(root: Path = REPO_ROOT) -> list[UseCase]:
    names = use_case_names(root)
    if not names:
        raise ConfigError(f"no use cases: add one under {USECASES_DIR}/ (liftoff new-use-case NAME)")
    return [load_use_case(name, root) for name in names]
