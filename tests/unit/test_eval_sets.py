"""Eval sets on disk and the messy-data generator."""

import json

import pytest
from click.testing import CliRunner

from liftoff.evals.augment import KINDS, augment
from liftoff.evals.cli import eval_group
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import load_cases, load_suite, read_cases

USE_CASE = "fixture-triage"


def test_the_shipped_triage_set_is_realistic_sized_and_tagged():
    cases = load_cases(USE_CASE)
    clean = [c for c in cases if "clean" in c.tags]
    assert len(clean) >= 60
    edge = [c for c in cases if "edge" in c.tags]
    edge_tags = {t for c in edge for t in c.tags}
    assert {"empty", "punctuation", "language", "multi-issue"} <= edge_tags
    generated = [c for c in cases if c.source]
    assert {c.id.split("~")[1] for c in generated} == set(KINDS)
    assert load_suite(USE_CASE).default_checks


def test_the_committed_variants_are_what_the_generator_writes():
    result = CliRunner().invoke(eval_group, ["augment", "--use-case", USE_CASE, "--check"])
    assert result.exit_code == 0, result.output


def test_generation_is_reproducible_for_a_seed_and_differs_across_seeds():
    clean = [c for c in load_cases(USE_CASE, files=["clean.jsonl"])]
    first = [c.to_line() for c in augment(clean, seed=7, per_case=3)]
    again = [c.to_line() for c in augment(clean, seed=7, per_case=3)]
    other = [c.to_line() for c in augment(clean, seed=8, per_case=3)]
    assert first == again
    assert first != other


def test_every_kind_is_present_and_each_variant_keeps_its_expectation():
    clean = load_cases(USE_CASE, files=["clean.jsonl"])
    by_id = {c.id: c for c in clean}
    variants = augment(clean, seed=7, per_case=3)
    assert len(variants) == 3 * len(clean)
    kinds = {v.id.split("~")[1] for v in variants}
    assert kinds == set(KINDS)
    for v in variants:
        source = by_id[v.source]
        kind = v.id.split("~")[1]
        assert v.checks == source.checks
        assert "clean" not in v.tags
        assert f"aug:{kind}" in v.tags
        assert KINDS[kind][1] in v.tags  # noisy / adversarial / pii
        assert v.variables != source.variables
    tagged = {t for v in variants for t in v.tags}
    assert {"noisy", "adversarial", "pii"} <= tagged


def test_kinds_do_what_they_say():
    clean = load_cases(USE_CASE, files=["clean.jsonl"])[:1]
    message = clean[0].variables["message"]
    out = {k: augment(clean * len(KINDS), seed=1, per_case=1)[i] for i, k in enumerate(KINDS)}
    text = {k: v.variables["message"] for k, v in out.items()}
    assert any(z in text["unicode_junk"] for z in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")) or any(
        ord(ch) > 0x2000 for ch in text["unicode_junk"]
    )
    assert len(text["long_padding"]) > 5 * len(message)
    assert len(text["truncation"]) < len(message)
    assert (
        "@" in text["pii"]
        or "+1" in text["pii"]
        or "4111" in text["pii"]
        or "Baker" in text["pii"]
        or "203." in text["pii"]
    )
    assert len(text["injection"]) > len(message)


def test_a_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "ok-1", "variables": {"message": "hi"}})
    path.write_text(good + "\n\n" + json.dumps({"id": "bad-1", "checks": [{"type": "regex"}]}) + "\n")
    with pytest.raises(ConfigError, match=r"bad.jsonl:3: case 'bad-1' is malformed") as err:
        read_cases(path)
    assert "checks.0" in str(err.value)
    path.write_text(good + "\n{not json\n")
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: not valid JSON"):
        read_cases(path)


def test_the_api_target_says_plainly_when_the_stage_has_no_api_key(monkeypatch):
    import click

    from liftoff.evals import cli

    monkeypatch.setattr(
        "liftoff.deployed.stack_outputs", lambda use_case, stage, required: {"InvokeUrl": "https://x/v1/invoke"}
    )
    with pytest.raises(click.ClickException, match="API-key auth only"):
        cli.api_endpoint("fixture-triage", "prod")


@pytest.fixture
def scaffolded(tmp_path):
    """A new use case as `liftoff new-use-case` writes it (its question variable: max_length 1000)."""
    import shutil

    from liftoff import REPO_ROOT
    from liftoff.scaffold import new_use_case

    for folder in ("usecases", "prompts", "evals"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    new_use_case("faq-bot", root=tmp_path)
    return tmp_path


def test_a_misspelt_case_variable_is_refused_at_load_naming_file_line_and_the_declared_ones(scaffolded):
    # Given a case whose variable is misspelt (`qestion`), on line 2
    path = scaffolded / "evals" / "faq-bot" / "clean.jsonl"
    lines = path.read_text().splitlines()
    case = json.loads(lines[1])
    case["variables"]["qestion"] = case["variables"].pop("question")
    lines[1] = json.dumps(case)
    path.write_text("\n".join(lines) + "\n")
    # When the cases load, Then the error names the file and line, the variable and what the prompt takes
    with pytest.raises(ConfigError) as err:
        load_cases("faq-bot", root=scaffolded)
    message = str(err.value)
    assert "evals/faq-bot/clean.jsonl:2: case " in message.splitlines()[0]
    assert "qestion" in message and "it takes: question" in message
    # and a case that tests the refusal on purpose (expect_error) is allowed to
    case["expect_error"] = "UnknownVariable"
    lines[1] = json.dumps(case)
    path.write_text("\n".join(lines) + "\n")
    assert load_cases("faq-bot", root=scaffolded)


def test_augmented_variants_fit_the_prompts_limits_or_expect_the_refusal(scaffolded):
    from liftoff.evals.augment import OVER_LIMIT_ERROR
    from liftoff.foundation.usecases import load_use_case

    # Given the scaffold's cases and its prompt's limit (question: 1000 characters)
    spec = load_use_case("faq-bot", scaffolded).prompts[0]
    limits = {v.name: v.max_length for v in spec.variables}
    clean = load_cases("faq-bot", root=scaffolded)
    near_limit = clean[0].model_copy(
        update={"id": "long-1", "variables": {**clean[0].variables, "question": "why " * 249}}
    )  # 996 characters: an appended injection goes over
    # When every kind is generated with the limits
    variants = augment([*clean, near_limit], seed=7, per_case=len(KINDS), limits=limits)
    # Then the long paste is as long as the limit allows (it was 3,594 characters), and a variant still over
    # the limit is a case the API must refuse, not an error counted against the answers
    padded = [v for v in variants if v.id.endswith("~long_padding")]
    assert all(len(v.variables["question"]) <= limits["question"] for v in padded)
    assert max(len(v.variables["question"]) for v in padded) > limits["question"] // 2
    over = [v for v in variants if any(len(v.variables[k]) > n for k, n in limits.items() if k in v.variables)]
    assert over and all(v.expect_error == OVER_LIMIT_ERROR and "aug:over-limit" in v.tags for v in over)
    assert all(v.checks == [] for v in over)
    fitting = [v for v in variants if v not in over]
    assert all(not v.expect_error for v in fitting)
