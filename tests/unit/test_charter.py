"""The charter's agreement and scope control: `liftoff charter agree|amend` and `liftoff scope check`,
in a scratch copy of the project (its use cases, prompts, charters and API description)."""

import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from liftoff import INSTALLED_FROM
from liftoff.charter import agree, amend, check_scope, read_agreement, scope_of
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import load_all_use_cases, load_use_case

LIFTOFF = Path(sys.executable).parent / "liftoff"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def root(scratch_project):
    return scratch_project


def _edit(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    changed = re.sub(pattern, replacement, text, count=1, flags=re.MULTILINE)
    assert changed != text, pattern
    path.write_text(changed)


def _liftoff(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LIFTOFF), *args], cwd=root, capture_output=True, text=True, timeout=120, check=False)


def test_the_fixture_use_cases_are_agreed_and_within_their_scope():
    # Given the fixture project's use cases (tests/contract/test_scope.py checks the checkout's own)
    for use_case in load_all_use_cases():
        # When their scope is checked, Then each is within its agreed scope (a poc not agreed yet passes)
        result = check_scope(use_case)
        assert result.ok, f"{result.detail}; {result.fix}"
    # and the two with a charter were agreed, so the check had an agreement to compare with
    assert all(read_agreement(name) is not None for name in ("fixture-triage", "fixture-summary"))


def test_lowering_min_accuracy_fails_the_check_until_an_amendment_covers_it(root):
    # Given the scratch copy's fixture-triage, agreed at min_accuracy 0.85
    assert _liftoff(root, "scope", "check", "--use-case", "fixture-triage").returncode == 0
    # When min_accuracy is lowered without an amendment
    _edit(root / "usecases" / "fixture-triage.yaml", r"^  min_accuracy: 0\.85$", "  min_accuracy: 0.70")
    failed = _liftoff(root, "scope", "check", "--use-case", "fixture-triage")
    # Then the check fails, naming the field, old -> new, and the command to run
    assert failed.returncode == 1
    assert "exit_criteria.min_accuracy: 0.85 -> 0.7" in failed.stdout
    assert "liftoff charter amend --use-case fixture-triage --by NAME" in failed.stdout
    assert "Traceback" not in failed.stderr
    # When an amendment is added, Then it passes, and the amendment records who, what and why
    amended = _liftoff(root, "charter", "amend", "--use-case", "fixture-triage", "--by", "Jo", "--why", "noisy set")
    assert amended.returncode == 0, amended.stderr
    assert _liftoff(root, "scope", "check", "--use-case", "fixture-triage").returncode == 0
    entry = read_agreement("fixture-triage", root)["amendments"][-1]
    assert (entry["by"], entry["why"]) == ("Jo", "noisy set")
    assert entry["what"] == "exit_criteria.min_accuracy: 0.85 -> 0.7"


def test_a_new_prompt_and_a_new_model_are_scope_changes(root):
    # Given an agreed use case, When a prompt (a new workflow) and a model are added
    prompts = root / "prompts" / "fixture-triage"
    shutil.copy(prompts / "triage.yaml", prompts / "refund.yaml")
    _edit(
        root / "usecases" / "fixture-triage.yaml",
        r"^    - us\.amazon\.nova-lite-v1:0$",
        "    - us.amazon.nova-lite-v1:0\n    - us.amazon.nova-pro-v1:0",
    )
    result = check_scope(load_use_case("fixture-triage", root))
    # Then both are named
    assert not result.ok
    assert {c.field for c in result.changes} == {"prompt_ids", "allowed_models"}
    assert "prompt_ids: added refund" in result.detail
    assert "allowed_models: added us.amazon.nova-pro-v1:0" in result.detail


def test_in_production_changes_are_reported_not_enforced(root):
    path = root / "usecases" / "fixture-triage.yaml"
    _edit(path, r"^  phase: poc$", "  phase: production")
    _edit(path, r"^  min_accuracy: 0\.85$", "  min_accuracy: 0.80")
    result = check_scope(load_use_case("fixture-triage", root))
    assert result.ok
    assert "not enforced" in result.detail and "0.85 -> 0.8" in result.detail


def test_a_pilot_must_be_agreed_a_poc_not_yet(root):
    (root / "charters" / "fixture-triage.yaml").unlink()
    assert check_scope(load_use_case("fixture-triage", root)).ok  # poc: scope still being written
    _edit(root / "usecases" / "fixture-triage.yaml", r"^  phase: poc$", "  phase: pilot")
    result = check_scope(load_use_case("fixture-triage", root))
    assert not result.ok
    assert result.fix == "liftoff charter agree --use-case fixture-triage --by NAME"


def test_agree_records_who_when_and_the_fingerprint_and_refuses_twice(root):
    (root / "charters" / "fixture-triage.yaml").unlink()
    use_case = load_use_case("fixture-triage", root)
    agree(use_case, "Head of Support", now=NOW)
    agreement = read_agreement("fixture-triage", root)
    assert (agreement["agreed_by"], agreement["agreed_at"]) == ("Head of Support", "2026-12-01T09:30:00+00:00")
    assert agreement["scope"] == scope_of(use_case)
    assert agreement["scope"]["api_routes"] == ["POST /v1/feedback", "POST /v1/invoke"]
    assert agreement["fingerprint"].startswith("sha256:")
    with pytest.raises(ConfigError, match="agreed already by Head of Support on 2026-12-01"):
        agree(use_case, "Someone else")


def test_an_agreement_edited_by_hand_is_refused(root):
    path = root / "charters" / "fixture-triage.yaml"
    data = yaml.safe_load(path.read_text())
    data["scope"]["exit_criteria"]["min_accuracy"] = 0.5
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="charters/fixture-triage.yaml: the fingerprint does not match"):
        check_scope(load_use_case("fixture-triage", root))


def test_an_amendment_needs_a_change(root):
    with pytest.raises(ConfigError, match="has not changed since it was last agreed"):
        amend(load_use_case("fixture-triage", root), "Jo", "no reason")


def test_a_criterion_added_to_the_template_at_its_default_is_not_a_change(root):
    # Given an agreement written before a criterion existed
    path = root / "charters" / "fixture-triage.yaml"
    data = yaml.safe_load(path.read_text())
    del data["scope"]["exit_criteria"]["max_invalid_output_rate"]
    from liftoff.charter import fingerprint

    data["fingerprint"] = fingerprint(data["scope"])
    path.write_text(yaml.safe_dump(data))
    # Then the criterion at its default is no change, but written with another value it is
    assert check_scope(load_use_case("fixture-triage", root)).ok
    _edit(
        root / "usecases" / "fixture-triage.yaml",
        r"^  max_error_rate: 0\.05",
        "  max_invalid_output_rate: 0.2\n  max_error_rate: 0.05",
    )
    assert not check_scope(load_use_case("fixture-triage", root)).ok


def test_a_charter_with_placeholders_cannot_be_agreed(root):
    from liftoff.scaffold import new_use_case

    new_use_case("faq-bot", root=root)
    use_case = load_use_case("faq-bot", root)
    assert use_case.config.charter.placeholders() == ["charter.owner", "charter.outcome", "charter.stakeholders"]
    with pytest.raises(ConfigError, match=r"replace the placeholders in charter\.owner"):
        agree(use_case, "Me")


def test_a_copied_use_case_gets_a_charter_to_agree_afresh(root):
    from liftoff.scaffold import new_use_case

    new_use_case("triage-two", source="fixture-triage", root=root)
    charter = load_use_case("triage-two", root).config.charter
    assert charter.placeholders() == ["charter.owner", "charter.outcome", "charter.stakeholders"]
    assert (
        charter.expected_requests_per_day
        == load_use_case("fixture-triage", root).config.charter.expected_requests_per_day
    )


def test_ci_runs_the_scope_check():
    steps = yaml.safe_load((INSTALLED_FROM / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["test"]["steps"]
    assert any(step.get("run", "").strip() == ".venv/bin/liftoff scope check" for step in steps)


@pytest.mark.parametrize(
    ("pattern", "replacement", "message"),
    [
        (
            r"^  outcome: .*$",
            "  outcome: Triage messages. Also answer them.",
            "field `charter.outcome`: the outcome is one",
        ),
        (r"^  peak_requests_per_s: .*$", "  peak_requests_per_s: 0.001", "below the average rate"),
        (r"^  phase: poc$", "  phase: done", "field `charter.phase`"),
        (r"^  review_by: .*$", "  review_by: next spring", "field `charter.review_by`"),
    ],
)
def test_a_bad_charter_fails_naming_the_file_and_field(root, pattern, replacement, message):
    _edit(root / "usecases" / "fixture-triage.yaml", pattern, replacement)
    with pytest.raises(ConfigError, match="usecases/fixture-triage.yaml") as raised:
        load_use_case("fixture-triage", root)
    assert message in str(raised.value)
