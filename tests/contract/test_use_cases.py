"""The contract every use case of the checkout keeps, whatever its name: a use case a team adds to usecases/ is
held to it by `make test` with no line of test code. Its stacks synthesize clean in both stages (cdk-nag, cfn-lint,
checkov), its prompts and their schemas load, its eval set loads and fits its prompts, its exit criteria agree with
its timeouts, limits and budget, and `liftoff smoke` passes on it in local mode. The template's own tests run on
the fixture project (tests/fixtures/project); this suite runs on your usecases/ (see docs/contributing.md)."""

import pytest

from liftoff import INSTALLED_FROM
from liftoff.foundation.eval_cases import load_cases, load_suite
from liftoff.foundation.names import stack_name
from liftoff.foundation.usecases import load_use_case
from tests.checks import TEMPLATE_SUFFIX, nag_problems
from tests.synth import STAGES

from .conftest import EVAL_CASES, USE_CASES
from .criteria import criteria_problems

every_use_case = pytest.mark.parametrize("name", USE_CASES)
every_stage = pytest.mark.parametrize("stage", STAGES)


def test_the_project_has_a_use_case_to_hold_to_the_contract():
    # with none, every test below would be skipped for an empty parameter set and `make test` pass on nothing
    assert USE_CASES, "usecases/ holds no use case: add one (liftoff new-use-case NAME), as every command asks"


def _template(name: str, stage: str) -> str:
    return stack_name(name, stage) + TEMPLATE_SUFFIX


@every_stage
@every_use_case
def test_it_synthesizes_with_no_cdk_nag_finding_unacknowledged(synthesized_checkout, name, stage):
    # Given the checkout's use cases synthesized for the stage, cdk-nag on (AwsSolutions and Serverless)
    # Then the validation report holds no finding on this use case's stack that is not acknowledged with a reason
    problems = nag_problems(synthesized_checkout.outdirs[stage], stack_name(name, stage))
    assert problems == [], "\n".join(problems)


@every_stage
@every_use_case
def test_its_template_is_cfn_lint_clean(synthesized_checkout, name, stage):
    # Given cfn-lint's findings over both stages' templates / Then this use case's template has none
    findings = synthesized_checkout.cfn_lint[_template(name, stage)]
    assert findings == [], "\n".join(findings)


@every_stage
@every_use_case
def test_its_template_is_checkov_clean(synthesized_checkout, name, stage):
    # Given checkov over both stages' templates / Then nothing fails in this use case's template that is not
    # skipped with a recorded reason
    problems = synthesized_checkout.checkov.problems[_template(name, stage)]
    assert problems == [], "\n".join(problems)


@every_use_case
def test_its_prompts_and_their_schemas_load(name):
    # When its config and prompt files load / Then no ConfigError (it names the file and the field): each prompt's
    # variables declared and used, its model allowed, a JSON answer's schema read from its file and a valid
    # JSON Schema whose every $ref resolves, a retrieval prompt's answer shaped for citations
    load_use_case(name, INSTALLED_FROM)


@every_use_case
def test_its_eval_set_loads_and_every_case_fits_its_prompt(name):
    # When its suite and every case load (each case's variables exactly its prompt's, unless it expects the
    # refusal; each expected source a document of the use case)
    suite = load_suite(name, INSTALLED_FROM)
    cases = load_cases(name, root=INSTALLED_FROM)
    # Then every prompt has cases (a prompt without any can never earn the eval record promotion needs), and
    # there are clean cases for smoke's good request
    evaluated = {c.prompt_id or suite.prompt_id for c in cases}
    unevaluated = [p.prompt_id for p in load_use_case(name, INSTALLED_FROM).prompts if p.prompt_id not in evaluated]
    assert unevaluated == [], f"{name}: no eval case runs prompt(s) {', '.join(unevaluated)}"
    assert any("clean" in c.tags and not c.expect_error for c in cases), f"{name}: no clean case"
    # and a retrieval-recall criterion has cases that name their expected sources to measure it on
    if load_use_case(name, INSTALLED_FROM).config.exit_criteria.min_retrieval_recall is not None:
        assert any(c.expected_sources for c in cases), f"{name}: min_retrieval_recall, but no case names sources"


@every_use_case
def test_its_exit_criteria_agree_with_its_timeouts_limits_and_budget(name):
    # Given its config / Then no rule of tests/contract/criteria.py finds an inconsistency
    problems = criteria_problems(load_use_case(name, INSTALLED_FROM).config)
    assert problems == [], f"usecases/{name}.yaml:\n" + "\n".join(problems)


@every_use_case
def test_smoke_passes_on_it_in_local_mode(local_run, name):
    # Given local mode started for it from the checkout, as a user starts it (`liftoff local up`)
    assert local_run.up.returncode == 0, local_run.up.stdout + local_run.up.stderr
    # When `liftoff smoke --local` runs against it / Then every check passes (CloudWatch's say SKIP)
    smoke = local_run.smoke
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert f"smoke test of {name} on local" in smoke.stdout
    assert "FAIL" not in smoke.stdout


@every_use_case
def test_its_eval_cases_get_answers_in_local_mode(local_run, name):
    # Given a fixed sample of its eval set run against its local mode (`liftoff eval run --gate`)
    evals = local_run.evals
    assert evals is not None, local_run.up.stdout + local_run.up.stderr
    # Then the run could judge (exit 0 PASS or 1 FAIL: the simulator's accuracy says nothing of a model's),
    # and every case got an answer or the refusal it expects
    assert evals.returncode in (0, 1), evals.stdout + evals.stderr
    (run,) = local_run.report["runs"]
    assert run["cases"] == min(EVAL_CASES, len(load_cases(name, root=INSTALLED_FROM)))
    assert run["errors"] == 0, evals.stdout
