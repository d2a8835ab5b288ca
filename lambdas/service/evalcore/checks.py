"""Checks (scorers): what an eval case expects of the model's output.

One implementation for `liftoff eval` (liftoff/evals/, which imports it from here) and for the golden
canary function that runs in Lambda (service/handlers/canary.py): it lives in the function package.

Each check is a pydantic model tagged by `type`, so a JSONL line is validated field by field, and
has `evaluate(output, judge) -> CheckResult`. A case passes when all its checks pass.

| type | passes when |
|---|---|
| `exact` | output == `value` (after stripping surrounding whitespace) |
| `equals` | equal after Unicode NFKC, casefold and whitespace collapsing |
| `contains` / `not_contains` | `value` is / is not in the output (normalised the same way unless `exact: true`) |
| `regex` | `pattern` matches somewhere (`re.search`; anchor with ^ and $ for a full match) |
| `json_valid` | the output is one JSON value (a ```json fence around it is tolerated) |
| `json_schema` | ... and it validates against `schema` (JSON Schema 2020-12) |
| `json_field` | ... and the value at `path` (`a.b[0].c`) equals `equals` or is one of `one_of` |
| `numeric` | the number at `path` (or the whole output) is within `tolerance` of `value` |
| `max_length` | the output has at most `chars` characters |
| `max_words` | the text at `path` (or the whole output) has at most `words` words |
| `refusal` | the output declines (`expected: true`, the default) or does not (`expected: false`) |
| `llm_judge` | a judge model scores the output against `rubric` at least `min_score` (off unless configured) |
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.models.regex import RegexPattern

MISSING = object()
FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.S)
PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
REFUSAL = re.compile(
    r"\b(i\s*(?:am|'m)\s+(?:sorry|unable|not able)|i\s+(?:can\s*not|can't|cannot|won't|will not)\s+"
    r"(?:help|assist|do|provide|comply|answer)|i\s+must\s+decline|as an ai\b|not able to (?:help|comply))",
    re.I,
)

# judge(rubric, output) -> (score, reason); None when no judge is configured. The runner binds the
# case's input to it, so a rubric such as faithfulness can be judged against the source.
Judge = Callable[[str, str], tuple[float, str]]


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool | None  # None: skipped (e.g. the judge is off)
    detail: str = ""


def normalise(text: str) -> str:
    """NFKC (full-width, ligatures), casefold, zero-width characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[\u200b-\u200d\u2060\ufeff]", "", text)
    return re.sub(r"\s+", " ", text).strip().casefold()


def parse_json(output: str) -> Any:
    text = output.strip()
    fenced = FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    return json.loads(text)


def value_at(document: Any, path: str) -> Any:
    """`a.b[0].c` in a parsed JSON document; MISSING when any step is absent."""
    current = document
    for key, index in PATH_PART.findall(path):
        try:
            current = current[int(index)] if index else current[key]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return current


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def evaluate(self, output: str, judge: Judge | None = None) -> CheckResult:  # pragma: no cover
        raise NotImplementedError

    def _result(self, passed: bool | None, detail: str = "") -> CheckResult:
        return CheckResult(self.type, passed, detail)  # type: ignore[attr-defined]


class Exact(_Check):
    type: Literal["exact"]
    value: str

    def evaluate(self, output, judge=None):
        return self._result(output.strip() == self.value.strip(), f"expected exactly {self.value!r}")


class Equals(_Check):
    type: Literal["equals"]
    value: str

    def evaluate(self, output, judge=None):
        return self._result(normalise(output) == normalise(self.value), f"expected {self.value!r} (normalised)")


class Contains(_Check):
    type: Literal["contains", "not_contains"]
    value: str
    exact: bool = False

    def evaluate(self, output, judge=None):
        found = self.value in output if self.exact else normalise(self.value) in normalise(output)
        wanted = self.type == "contains"
        return self._result(found == wanted, f"{'missing' if wanted else 'unwanted'} {self.value!r}")


class Regex(_Check):
    type: Literal["regex"]
    pattern: RegexPattern
    ignore_case: bool = False

    def evaluate(self, output, judge=None):
        flags = re.I if self.ignore_case else 0
        return self._result(re.search(self.pattern, output, flags) is not None, f"no match for /{self.pattern}/")


class JsonValid(_Check):
    type: Literal["json_valid"]

    def evaluate(self, output, judge=None):
        try:
            parse_json(output)
        except ValueError as exc:
            return self._result(False, f"not JSON: {exc}")
        return self._result(True)


class JsonSchema(_Check):
    type: Literal["json_schema"]
    json_schema: dict = Field(alias="schema")

    @model_validator(mode="after")
    def _valid_schema(self) -> JsonSchema:
        try:
            Draft202012Validator.check_schema(self.json_schema)
        except SchemaError as exc:
            raise ValueError(f"schema is not a valid JSON Schema: {exc.message}") from exc
        return self

    def evaluate(self, output, judge=None):
        try:
            document = parse_json(output)
        except ValueError as exc:
            return self._result(False, f"not JSON: {exc}")
        errors = sorted(Draft202012Validator(self.json_schema).iter_errors(document), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(root)"
            return self._result(False, f"{where}: {errors[0].message}")
        return self._result(True)


class JsonField(_Check):
    type: Literal["json_field"]
    path: str
    equals: Any = None
    one_of: list[Any] | None = None
    normalise: bool = True  # strings compared after normalise()

    @model_validator(mode="after")
    def _one_expectation(self) -> JsonField:
        if (self.equals is None) == (self.one_of is None):
            raise ValueError("give exactly one of `equals` or `one_of`")
        return self

    def _same(self, got: Any, want: Any) -> bool:
        if self.normalise and isinstance(got, str) and isinstance(want, str):
            return normalise(got) == normalise(want)
        return got == want

    def evaluate(self, output, judge=None):
        try:
            got = value_at(parse_json(output), self.path)
        except ValueError as exc:
            return self._result(False, f"not JSON: {exc}")
        if got is MISSING:
            return self._result(False, f"no field {self.path}")
        wanted = [self.equals] if self.one_of is None else self.one_of
        ok = any(self._same(got, w) for w in wanted)
        return self._result(ok, f"{self.path} is {got!r}, expected {'one of ' if self.one_of else ''}{wanted!r}")


class Numeric(_Check):
    type: Literal["numeric"]
    value: float
    tolerance: float = Field(default=0.0, ge=0)
    path: str | None = None

    def evaluate(self, output, judge=None):
        try:
            raw = value_at(parse_json(output), self.path) if self.path else output.strip()
            got = float(raw)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return self._result(False, f"no number at {self.path or 'output'}")
        ok = math.isfinite(got) and abs(got - self.value) <= self.tolerance
        return self._result(ok, f"{got} is not within {self.tolerance} of {self.value}")


class MaxLength(_Check):
    type: Literal["max_length"]
    chars: int = Field(gt=0)

    def evaluate(self, output, judge=None):
        return self._result(len(output) <= self.chars, f"{len(output)} characters, limit {self.chars}")


class MaxWords(_Check):
    type: Literal["max_words"]
    words: int = Field(gt=0)
    path: str | None = None

    def evaluate(self, output, judge=None):
        if self.path:
            try:
                text = value_at(parse_json(output), self.path)
            except ValueError as exc:
                return self._result(False, f"not JSON: {exc}")
            if not isinstance(text, str):
                return self._result(False, f"no text at {self.path}")
        else:
            text = output
        count = len(text.split())
        return self._result(count <= self.words, f"{count} words, limit {self.words}")


class Refusal(_Check):
    type: Literal["refusal"]
    expected: bool = True

    def evaluate(self, output, judge=None):
        refused = REFUSAL.search(output) is not None
        return self._result(refused == self.expected, "did not decline" if self.expected else "declined")


class LlmJudge(_Check):
    type: Literal["llm_judge"]
    rubric: str = Field(min_length=10)
    min_score: float = Field(default=4, ge=1, le=5)

    def evaluate(self, output, judge=None):
        if judge is None:
            return self._result(None, "skipped: no judge configured (suite.yaml `judge`)")
        score, reason = judge(self.rubric, output)
        return self._result(score >= self.min_score, f"score {score:g} < {self.min_score:g}: {reason}")


Check = Annotated[
    Exact
    | Equals
    | Contains
    | Regex
    | JsonValid
    | JsonSchema
    | JsonField
    | Numeric
    | MaxLength
    | MaxWords
    | Refusal
    | LlmJudge,
    Field(discriminator="type"),
]
