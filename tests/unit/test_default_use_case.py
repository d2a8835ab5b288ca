"""Which use case a command works on without --use-case (liftoff/usecases.py choose_use_case): --use-case,
then LIFTOFF_USE_CASE, then cdk.json's `liftoff:default_use_case`, then the only one; else a refusal naming
them all. The commands themselves: tests/e2e/test_default_use_case.py."""

import json

import pytest

from liftoff.foundation.usecases import (
    DEFAULT_USE_CASE_KEY,
    UnknownUseCase,
    UseCaseChoice,
    UseCaseNotChosen,
    choose_use_case,
)


def project(root, names, default=None):
    (root / "usecases").mkdir()
    for name in names:
        (root / "usecases" / f"{name}.yaml").write_text(f"name: {name}\n")
    context = {"stage": "sandbox", **({DEFAULT_USE_CASE_KEY: default} if default else {})}
    (root / "cdk.json").write_text(json.dumps({"app": "x", "context": context}))
    return root


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("LIFTOFF_USE_CASE", raising=False)


def test_the_only_use_case_is_the_default(tmp_path):
    assert choose_use_case(None, project(tmp_path, ["faq-bot"])) == UseCaseChoice("faq-bot", "the only use case")


def test_several_and_none_chosen_is_refused_naming_them_and_the_three_ways(tmp_path):
    with pytest.raises(UseCaseNotChosen) as refused:
        choose_use_case(None, project(tmp_path, ["hr-bot", "faq-bot"]))
    assert "usecases/ has 2 (faq-bot, hr-bot) and none is chosen" in str(refused.value)
    for way in ("--use-case NAME", "LIFTOFF_USE_CASE=NAME", f'"{DEFAULT_USE_CASE_KEY}": "NAME"'):
        assert way in str(refused.value)


def test_explicit_then_the_variable_then_cdk_json_then_the_only_one(tmp_path, monkeypatch):
    root = project(tmp_path, ["a-bot", "b-bot", "c-bot"], default="c-bot")
    assert choose_use_case(None, root) == UseCaseChoice("c-bot", "cdk.json")
    monkeypatch.setenv("LIFTOFF_USE_CASE", "b-bot")
    assert choose_use_case(None, root) == UseCaseChoice("b-bot", "LIFTOFF_USE_CASE")
    assert choose_use_case("a-bot", root) == UseCaseChoice("a-bot", "--use-case")
    monkeypatch.setenv("LIFTOFF_USE_CASE", " ")  # blank is unset
    assert choose_use_case(None, root).name == "c-bot"


@pytest.mark.parametrize(
    ("explicit", "env", "default", "says"),
    [
        ("nope", None, None, "no use case `nope`"),
        (None, "nope", None, "LIFTOFF_USE_CASE=nope names `nope`, but there is no such use case"),
        (None, None, "nope", f"cdk.json's context `{DEFAULT_USE_CASE_KEY}` names `nope`, but there is no such"),
    ],
)
def test_an_unknown_name_wherever_it_comes_from_lists_the_known(tmp_path, monkeypatch, explicit, env, default, says):
    root = project(tmp_path, ["faq-bot", "hr-bot"], default=default)
    if env:
        monkeypatch.setenv("LIFTOFF_USE_CASE", env)
    with pytest.raises(UnknownUseCase) as refused:
        choose_use_case(explicit, root)
    assert says in str(refused.value) and "known: faq-bot, hr-bot" in str(refused.value)


def test_no_use_case_at_all_says_how_to_add_one(tmp_path):
    with pytest.raises(UseCaseNotChosen, match="no use cases: add one under usecases/ \\(liftoff new-use-case NAME\\)"):
        choose_use_case(None, project(tmp_path, []))
