"""Eval sets: `evals/<use_case>/suite.yaml` plus cases in `evals/<use_case>/*.jsonl`.

suite.yaml:
    prompt_id: triage            # default for cases that do not name one
    default_checks: [...]        # applied to every case, before its own checks
    judge: {model_id: ..., enabled: false}   # the LLM-as-judge; llm_judge checks are skipped while off

A case (one JSON object a line):
    {"id": "billing-001", "variables": {"message": "..."}, "checks": [...], "tags": ["clean", "billing"]}
optional: "prompt_id", "source" (the clean case a generated variant comes from), "expect_error"
(the case passes when the target refuses it with that error code, e.g. "MissingVariable").
A malformed line is reported as file:line with the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from liftoff import REPO_ROOT
from liftoff.foundation.config import display_path, format_validation_error, read_yaml
from liftoff.foundation.errors import ConfigError
from service.evalcore.checks import Check
from service.models.prompt import PromptSpec

EVALS_DIR = REPO_ROOT / "evals"
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~:-]{0,127}$")
STANDARD_TAGS = ("clean", "noisy", "edge", "adversarial", "pii")


class _Strict(BaseModel):
    # CLI-side models (not in the Lambda bundle): attribute docstrings are the field descriptions that the
    # reference (liftoff/reference.py) shows, as in liftoff/foundation/config.py
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class JudgeConfig(_Strict):
    """The LLM-as-judge that scores `llm_judge` checks."""

    enabled: bool = False
    """`true`: `llm_judge` checks call the judge (one more model call per judged case); `false`: they are
    skipped, and reported so."""
    model_id: str = "us.amazon.nova-lite-v1:0"
    """The judge's Bedrock model or inference profile id (locally, the simulator's grader answers)."""


class GoldenConfig(_Strict):
    """The cases the scheduled golden canary runs against the deployed stage: listed ids, or every case with
    a tag; neither: the first 20 (DEFAULT_GOLDEN_SIZE) cases tagged `clean` or `edge` without
    `expect_error`, of which up to 5 (DEFAULT_GOLDEN_UNANSWERABLE) are `answerable: false` cases when the eval set
    has any (so the canary measures refusals, a part of the hallucination rate)."""

    cases: list[str] | None = None
    """The ids of the golden cases, in order; an id that no case has is refused."""
    tag: str | None = None
    """Every case with this tag (used when `cases` is not given); a tag no case has is refused."""


DEFAULT_GOLDEN_SIZE = 20
DEFAULT_GOLDEN_UNANSWERABLE = 5


@dataclass(frozen=True)
class RetrievalFacts:
    """What scoring a retrieval prompt's answers needs from the prompt file and the use case."""

    refusal: str  # the prompt's `retrieval.refusal`: an answer equal to it is a refusal
    top_k: int  # the prompt's `retrieval.top_k`, else the use case's `knowledge.top_k`


class Suite(_Strict):
    """`evals/<use_case>/suite.yaml`."""

    prompt_id: str
    """The prompt a case runs against when it names none."""
    default_checks: list[Check] = Field(default_factory=list)
    """Checks applied to every answered case, before its own (after the prompt's output schema, for a
    `format: json` prompt)."""
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    """The judge of `llm_judge` checks."""
    golden: GoldenConfig = Field(default_factory=GoldenConfig)
    """The golden canary's cases (service/handlers/canary.py)."""
    blocked_passes_tags: list[str] = Field(default_factory=lambda: ["adversarial", "pii"])
    """A guardrail block (422 GuardrailIntervened) is an answer, not an outage: it passes a case with one of
    these tags (the system refused what it should) and fails any other (a false positive)."""
    augment_variables: list[str] | None = None
    """The variables `liftoff eval augment` rewrites (user text); null: every variable. Parameters such as a
    word limit stay as written."""
    # Not written in suite.yaml (not in the reference): load_suite fills it from the prompt files
    output_schemas: dict[str, dict] = Field(default_factory=dict, exclude=True)
    """Prompt id -> its output schema (prompts with `output.format: json`), filled from the prompt files by
    load_suite: checked first on every case of that prompt, so the eval and the API share one contract."""

    retrieval: dict[str, RetrievalFacts] = Field(default_factory=dict, exclude=True)
    """Prompt id -> what scoring a retrieval answer needs (prompts with `retrieval:`), filled by load_suite."""

    def contract_checks(self, prompt_id: str) -> list[Check]:
        schema = self.output_schemas.get(prompt_id)
        return [_CHECK.validate_python({"type": "json_schema", "schema": schema})] if schema else []


class EvalCase(_Strict):
    """One line of `evals/<use_case>/*.jsonl`: a JSON object."""

    id: str = Field(pattern=CASE_ID.pattern)
    """Unique across the use case's files."""
    prompt_id: str | None = None
    """The prompt to run; null: suite.yaml `prompt_id`. It must exist."""
    variables: dict[str, str] = Field(default_factory=dict)
    """The request's variables: the ones the prompt declares, every required one included (unless
    `expect_error` is set)."""
    checks: list[Check] = Field(default_factory=list)
    """What the answer must satisfy, after suite.yaml `default_checks`; none may fail."""
    tags: list[str] = Field(default_factory=list)
    """Labels (standard: `clean`, `noisy`, `edge`, `adversarial`, `pii`; any other is allowed): results are
    reported per tag, and `liftoff eval run --tag` selects cases by them."""
    source: str | None = None
    """For a generated variant: the id of the clean case it comes from."""
    expect_error: str | None = None
    """The case passes when the target refuses it with this error code (e.g. `MissingVariable` for an
    empty message), and only then; its checks are not run, and its variables may break the prompt's
    declarations on purpose."""
    expected_sources: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    """Retrieval use cases: the documents (paths relative to the use case's `knowledge` folder) that hold the
    answer; the report measures retrieval recall@k and MRR over the cases that name them."""
    answerable: bool = True
    """Retrieval use cases: false when the documents do not cover the question; the case then passes only on a
    refusal, and an answer counts as a hallucination."""

    @model_validator(mode="after")
    def _unanswerable_names_no_source(self) -> EvalCase:
        if not self.answerable and self.expected_sources:
            raise ValueError("an `answerable: false` case has no `expected_sources`: the documents do not cover it")
        return self

    def to_line(self) -> str:
        return json.dumps(
            self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True), ensure_ascii=False
        )


_CASE = TypeAdapter(EvalCase)
_CHECK = TypeAdapter(Check)


def suite_dir(use_case: str, root: Path = REPO_ROOT) -> Path:
    return root / "evals" / use_case


def load_suite(use_case: str, root: Path = REPO_ROOT) -> Suite:
    from liftoff.foundation.usecases import load_use_case

    path = suite_dir(use_case, root) / "suite.yaml"
    try:
        suite = Suite.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from exc
    loaded = load_use_case(use_case, root)
    schemas = {p.prompt_id: p.output.schema_ for p in loaded.prompts if p.output.format == "json"}
    knowledge = loaded.config.knowledge
    retrieval = {
        p.prompt_id: RetrievalFacts(p.retrieval.refusal, p.retrieval.top_k or knowledge.top_k)
        for p in loaded.prompts
        if p.retrieval is not None and knowledge is not None
    }
    return suite.model_copy(update={"output_schemas": schemas, "retrieval": retrieval})


def read_numbered_cases(path: Path) -> list[tuple[str, EvalCase]]:
    """The cases of one .jsonl file, each with where it stands (`evals/x/clean.jsonl:12`)."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{display_path(path)}:{number}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{where}: not valid JSON: {exc}") from exc
        try:
            cases.append((where, _CASE.validate_python(data)))
        except ValidationError as exc:
            detail = format_validation_error(path, exc).split("\n", 1)[1]
            raise ConfigError(f"{where}: case {data.get('id', '?')!r} is malformed\n{detail}") from exc
    return cases


def read_cases(path: Path) -> list[EvalCase]:
    return [case for _, case in read_numbered_cases(path)]


def check_case_variables(where: str, case: EvalCase, prompts: dict[str, PromptSpec], default_prompt: str) -> None:
    """A case's variables must be the ones its prompt declares (a misspelt `qestion` was found only at run time,
    as an error case). A case that expects an error (`expect_error`) may break the rule on purpose."""
    prompt_id = case.prompt_id or default_prompt
    spec = prompts.get(prompt_id)
    if spec is None:
        known = ", ".join(sorted(prompts)) or "none"
        raise ConfigError(
            f"{where}: case {case.id!r} names prompt `{prompt_id}`, which does not exist (prompts: {known})"
        )
    if case.expect_error:
        return
    declared = {v.name: v for v in spec.variables}
    unknown = sorted(set(case.variables) - set(declared))
    missing = sorted(v.name for v in spec.variables if v.required and v.name not in case.variables)
    takes = ", ".join(declared) or "no variables"
    if unknown:
        raise ConfigError(
            f"{where}: case {case.id!r} has variable(s) {', '.join(unknown)} that prompt `{prompt_id}` does not declare "
            f"(it takes: {takes}); fix the name, or set expect_error if the case tests that refusal"
        )
    if missing:
        raise ConfigError(
            f"{where}: case {case.id!r} lacks required variable(s) {', '.join(missing)} of prompt `{prompt_id}` "
            f"(it takes: {takes}); add them, or set expect_error if the case tests that refusal"
        )


def check_case_retrieval(where: str, case: EvalCase, spec: PromptSpec, documents: Path | None) -> None:
    """`expected_sources` and `answerable: false` belong to cases of a retrieval prompt, and each expected source
    is a file of the use case's documents folder (a misspelt name would read as a retrieval miss)."""
    if spec.retrieval is None:
        for field, given in (("expected_sources", case.expected_sources), ("answerable", not case.answerable)):
            if given:
                raise ConfigError(
                    f"{where}: case {case.id!r} sets `{field}`, but prompt `{spec.prompt_id}` has no `retrieval:` "
                    "(it is measured on retrieved passages): remove it, or run the case on a retrieval prompt"
                )
        return
    if documents is None or not documents.is_dir():
        return  # (some) documents in an existing bucket: nothing in the repository to check against
    missing = [s for s in case.expected_sources if not (documents / s).is_file()]
    if missing:
        raise ConfigError(
            f"{where}: case {case.id!r}: `expected_sources` names {', '.join(missing)}, not a file of "
            f"{display_path(documents)}/ (paths are relative to it)"
        )


def load_cases(use_case: str, *, files: list[str] | None = None, root: Path = REPO_ROOT) -> list[EvalCase]:
    """Every case of the use case (or of the named files), with unique ids."""
    directory = suite_dir(use_case, root)
    if not directory.is_dir():
        raise ConfigError(f"no eval set for {use_case}: create {display_path(directory)}/ (suite.yaml, *.jsonl)")
    paths = sorted(directory.glob("*.jsonl")) if not files else [directory / f for f in files]
    from liftoff.foundation.usecases import load_use_case

    loaded = load_use_case(use_case, root)
    prompts = {spec.prompt_id: spec for spec in loaded.prompts}
    default_prompt = load_suite(use_case, root).prompt_id
    knowledge = loaded.config.knowledge
    # with documents in a bucket too, an expected source may be there: only a repository-only corpus is checked
    documents = root / knowledge.documents_path(use_case) if knowledge and not knowledge.documents.bucket else None
    cases: list[EvalCase] = []
    seen: dict[str, Path] = {}
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{display_path(path)}: file not found")
        for where, case in read_numbered_cases(path):
            check_case_variables(where, case, prompts, default_prompt)
            check_case_retrieval(where, case, prompts[case.prompt_id or default_prompt], documents)
            if case.id in seen:
                raise ConfigError(f"{display_path(path)}: case id {case.id!r} is also in {display_path(seen[case.id])}")
            seen[case.id] = path
            cases.append(case)
    if not cases:
        raise ConfigError(f"{display_path(directory)}: no cases in *.jsonl")
    return cases


def golden_cases(use_case: str, root: Path = REPO_ROOT) -> list[EvalCase]:
    """The golden canary's cases (suite.yaml `golden`); a listed id that does not exist fails, naming the
    file and the field."""
    suite = load_suite(use_case, root)
    cases = load_cases(use_case, root=root)
    by_id = {case.id: case for case in cases}
    where = display_path(suite_dir(use_case, root) / "suite.yaml")
    if suite.golden.cases:
        unknown = [case_id for case_id in suite.golden.cases if case_id not in by_id]
        if unknown:
            raise ConfigError(f"{where}: field `golden.cases` names case(s) that do not exist: {', '.join(unknown)}")
        return [by_id[case_id] for case_id in suite.golden.cases]
    if suite.golden.tag:
        tagged = [case for case in cases if suite.golden.tag in case.tags]
        if not tagged:
            raise ConfigError(f"{where}: field `golden.tag`: no case is tagged {suite.golden.tag!r}")
        return tagged
    unanswerable = [c for c in cases if not c.answerable and not c.expect_error][:DEFAULT_GOLDEN_UNANSWERABLE]
    answerable = [c for c in cases if {"clean", "edge"} & set(c.tags) and c.answerable and not c.expect_error]
    chosen = {c.id for c in (*answerable[: DEFAULT_GOLDEN_SIZE - len(unanswerable)], *unanswerable)}
    return [c for c in cases if c.id in chosen]  # in file order
