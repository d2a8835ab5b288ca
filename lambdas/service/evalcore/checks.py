"""Checks (scorers): what an eval case expects of the model's output.

One implementation for `liftoff eval` (liftoff/evals/, which imports it from here) and for the golden
canary function that runs in Lambda (service/handlers/canary.py): it lives in the function package.

Each check is a pydantic model tagged by `type`, so a JSONL line is validated field by field, and
has `evaluate(output, judge) -> CheckResult`. A case passes when all its checks pass. Each class's
docstring says when it passes; docs/evaluation.md lists every type with its fields, made from these
models by liftoff/reference.py.
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
    # Field descriptions are given with Field(description=...), not as attribute docstrings
    # (use_attribute_docstrings): that option reads and parses this module's source when the classes are
    # built, on every cold start of the golden canary function. The reference (liftoff/reference.py) uses them.
    model_config = ConfigDict(extra="forbid", frozen=True)

    def evaluate(self, output: str, judge: Judge | None = None) -> CheckResult:  # pragma: no cover
        raise NotImplementedError

    def _result(self, passed: bool | None, detail: str = "") -> CheckResult:
        return CheckResult(self.type, passed, detail)  # type: ignore[attr-defined]


class Exact(_Check):
    """The output is `value`, after stripping surrounding whitespace from both."""

    type: Literal["exact"] = Field(description="Which check this is.")
    value: str = Field(description="The expected output.")

    def evaluate(self, output, judge=None):
        return self._result(output.strip() == self.value.strip(), f"expected exactly {self.value!r}")


class Equals(_Check):
    """The output equals `value` after Unicode NFKC, casefolding, removing zero-width characters and
    collapsing whitespace in both."""

    type: Literal["equals"] = Field(description="Which check this is.")
    value: str = Field(description="The expected output.")

    def evaluate(self, output, judge=None):
        return self._result(normalise(output) == normalise(self.value), f"expected {self.value!r} (normalised)")


class Contains(_Check):
    """`value` is (`contains`) or is not (`not_contains`) in the output, both normalised as for `equals`
    unless `exact: true`."""

    type: Literal["contains", "not_contains"] = Field(description="Which check this is.")
    value: str = Field(description="The text to look for.")
    exact: bool = Field(default=False, description="`true`: compare as written, without normalising.")

    def evaluate(self, output, judge=None):
        found = self.value in output if self.exact else normalise(self.value) in normalise(output)
        wanted = self.type == "contains"
        return self._result(found == wanted, f"{'missing' if wanted else 'unwanted'} {self.value!r}")


class Regex(_Check):
    """`pattern` matches somewhere in the output (`re.search`; anchor it with `^` and `$` for a full match)."""

    type: Literal["regex"] = Field(description="Which check this is.")
    pattern: RegexPattern = Field(description="A Python regular expression; one that does not compile is refused.")
    ignore_case: bool = Field(default=False, description="`true`: match regardless of case.")

    def evaluate(self, output, judge=None):
        flags = re.I if self.ignore_case else 0
        return self._result(re.search(self.pattern, output, flags) is not None, f"no match for /{self.pattern}/")


class JsonValid(_Check):
    """The output is one JSON value (a ```` ```json ```` fence around it is tolerated)."""

    type: Literal["json_valid"] = Field(description="Which check this is.")

    def evaluate(self, output, judge=None):
        try:
            parse_json(output)
        except ValueError as exc:
            return self._result(False, f"not JSON: {exc}")
        return self._result(True)


class JsonSchema(_Check):
    """The output is one JSON value (fence tolerated) that validates against `schema`."""

    type: Literal["json_schema"] = Field(description="Which check this is.")
    json_schema: dict = Field(
        alias="schema", description="A JSON Schema 2020-12; one that is not a valid schema is refused."
    )

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
    """The output is one JSON value (fence tolerated) whose value at `path` equals `equals` or one of
    `one_of`. Give exactly one of the two."""

    type: Literal["json_field"] = Field(description="Which check this is.")
    path: str = Field(description="Where the value is: `a.b[0].c`; absent: the check fails.")
    equals: Any = Field(default=None, description="The expected value (any JSON value but null).")
    one_of: list[Any] | None = Field(default=None, description="The values it may be.")
    normalise: bool = Field(
        default=True, description="`true`: strings are compared normalised, as for `equals`; `false`: exactly."
    )

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
    """The number at `path` of the JSON output (or the whole output) is within `tolerance` of `value`."""

    type: Literal["numeric"] = Field(description="Which check this is.")
    value: float = Field(description="The expected number.")
    tolerance: float = Field(default=0.0, ge=0, description="The largest difference that passes.")
    path: str | None = Field(default=None, description="Where the number is (`a.b[0]`); null: the whole output.")

    def evaluate(self, output, judge=None):
        try:
            raw = value_at(parse_json(output), self.path) if self.path else output.strip()
            got = float(raw)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return self._result(False, f"no number at {self.path or 'output'}")
        ok = math.isfinite(got) and abs(got - self.value) <= self.tolerance
        return self._result(ok, f"{got} is not within {self.tolerance} of {self.value}")


class MaxLength(_Check):
    """The output has at most `chars` characters."""

    type: Literal["max_length"] = Field(description="Which check this is.")
    chars: int = Field(gt=0, description="The most characters the output may have.")

    def evaluate(self, output, judge=None):
        return self._result(len(output) <= self.chars, f"{len(output)} characters, limit {self.chars}")


class MaxWords(_Check):
    """The text at `path` of the JSON output (or the whole output) has at most `words` words (split on
    whitespace)."""

    type: Literal["max_words"] = Field(description="Which check this is.")
    words: int = Field(gt=0, description="The most words it may have.")
    path: str | None = Field(
        default=None, description="Where the text is (`a.b[0]`); not a string: the check fails. null: the whole output."
    )

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
    """The output declines ("I can't help with that", "as an AI", ...), or does not with `expected: false`."""

    type: Literal["refusal"] = Field(description="Which check this is.")
    expected: bool = Field(default=True, description="`true`: it must decline; `false`: it must not.")

    def evaluate(self, output, judge=None):
        refused = REFUSAL.search(output) is not None
        return self._result(refused == self.expected, "did not decline" if self.expected else "declined")


class LlmJudge(_Check):
    """A judge model (suite.yaml `judge`) scores the output against `rubric` from 1 to 5, seeing the case's
    input, and the score is at least `min_score`. Skipped, and reported so, while the judge is off."""

    type: Literal["llm_judge"] = Field(description="Which check this is.")
    rubric: str = Field(min_length=10, description="What the judge scores, with what earns a 5 and a 1.")
    min_score: float = Field(default=4, ge=1, le=5, description="The lowest score that passes.")

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
