"""Eval sets on disk and the messy-data generator."""

import json

import pytest
from click.testing import CliRunner

from liftoff.errors import ConfigError
from liftoff.evals.augment import KINDS, augment
from liftoff.evals.cases import load_cases, load_suite, read_cases
from liftoff.evals.cli import eval_group

USE_CASE = "support-triage"


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
        cli.api_endpoint("support-triage", "prod")
