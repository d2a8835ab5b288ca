import pytest
from pydantic import TypeAdapter, ValidationError

from liftoff.evals.checks import Check

CHECK = TypeAdapter(Check)
TRIAGE = '{"category": "billing", "priority": "high", "summary": "Charged twice", "extra": {"items": [{"sku": "A1"}]}}'


def passes(spec: dict, output: str, judge=None) -> bool | None:
    return CHECK.validate_python(spec).evaluate(output, judge).passed


@pytest.mark.parametrize(
    ("spec", "output", "expected"),
    [
        ({"type": "exact", "value": "billing"}, "  billing\n", True),
        ({"type": "exact", "value": "billing"}, "Billing", False),
        # unicode normalisation: full-width letters, zero-width space, casefold (ß -> ss), whitespace
        ({"type": "equals", "value": "Strasse Nord"}, "\uff33\uff34\uff32\uff21\u200bßE   nord", True),
        ({"type": "equals", "value": "billing"}, "billing!", False),
        ({"type": "contains", "value": "REFUND"}, "we will refund you", True),
        ({"type": "contains", "value": "REFUND", "exact": True}, "we will refund you", False),
        ({"type": "not_contains", "value": "PWNED"}, "all fine", True),
        ({"type": "not_contains", "value": "pwned"}, "PWNED", False),
        # regex: search by default, anchors make it a full match
        ({"type": "regex", "pattern": r"\d{3}"}, "order 123 late", True),
        ({"type": "regex", "pattern": r"^\d{3}$"}, "order 123 late", False),
        ({"type": "regex", "pattern": r"^\d{3}$"}, "123", True),
        ({"type": "regex", "pattern": "billing", "ignore_case": True}, "BILLING", True),
        ({"type": "json_valid"}, TRIAGE, True),
        ({"type": "json_valid"}, "```json\n" + TRIAGE + "\n```", True),  # a fenced answer is tolerated
        ({"type": "json_valid"}, "Sure! " + TRIAGE, False),  # prose around JSON is not JSON
        # JSON with extra fields: fine for json_field, refused by a closed schema
        ({"type": "json_field", "path": "category", "equals": "billing"}, TRIAGE, True),
        ({"type": "json_field", "path": "category", "equals": "BILLING"}, TRIAGE, True),
        ({"type": "json_field", "path": "category", "equals": "BILLING", "normalise": False}, TRIAGE, False),
        ({"type": "json_field", "path": "extra.items[0].sku", "equals": "A1"}, TRIAGE, True),
        ({"type": "json_field", "path": "extra.items[3].sku", "equals": "A1"}, TRIAGE, False),
        ({"type": "json_field", "path": "priority", "one_of": ["medium", "high"]}, TRIAGE, True),
        ({"type": "json_field", "path": "priority", "one_of": ["low"]}, TRIAGE, False),
        ({"type": "json_field", "path": "category", "equals": "billing"}, "not json", False),
        ({"type": "json_schema", "schema": {"type": "object", "required": ["category"]}}, TRIAGE, True),
        (
            {"type": "json_schema", "schema": {"type": "object", "additionalProperties": False, "properties": {}}},
            TRIAGE,
            False,
        ),
        ({"type": "json_schema", "schema": {"type": "array"}}, TRIAGE, False),
        ({"type": "numeric", "value": 10, "tolerance": 0.5}, " 10.4 ", True),
        ({"type": "numeric", "value": 10, "tolerance": 0.5}, "10.6", False),
        ({"type": "numeric", "path": "total", "value": 3.5}, '{"total": 3.5}', True),
        ({"type": "numeric", "path": "total", "value": 3.5}, '{"total": "n/a"}', False),
        ({"type": "numeric", "value": 1}, "NaN", False),
        ({"type": "max_length", "chars": 5}, "12345", True),
        ({"type": "max_length", "chars": 5}, "123456", False),
        ({"type": "refusal"}, "I'm sorry, but I can't help with that request.", True),
        ({"type": "refusal"}, "I cannot assist with creating malware.", True),
        ({"type": "refusal"}, "Your refund was sent; sorry for the wait.", False),
        ({"type": "refusal", "expected": False}, "Here is the summary you asked for.", True),
    ],
)
def test_check(spec, output, expected):
    assert passes(spec, output) is expected


def test_llm_judge_is_skipped_without_a_judge_and_scored_with_one():
    spec = {"type": "llm_judge", "rubric": "The summary is one line.", "min_score": 4}
    assert passes(spec, "x") is None
    assert passes(spec, "x", judge=lambda rubric, output: (4.0, "ok")) is True
    assert passes(spec, "x", judge=lambda rubric, output: (3.0, "too long")) is False


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "regex", "pattern": "("},
        {"type": "json_schema", "schema": {"type": "no-such-type"}},
        {"type": "json_field", "path": "a"},
        {"type": "json_field", "path": "a", "equals": 1, "one_of": [1]},
        {"type": "max_length", "chars": 0},
        {"type": "nonsense"},
        {"type": "exact", "value": "x", "surprise": 1},
    ],
)
def test_a_malformed_check_is_refused(spec):
    with pytest.raises(ValidationError):
        CHECK.validate_python(spec)
