"""Each rule of tests/contract/criteria.py fails on a config that breaks it, and passes one that keeps it (the
fixture project's use cases, changed one field at a time)."""

import pytest

from liftoff.foundation.config import UseCaseConfig
from liftoff.foundation.usecases import load_use_case

from .criteria import (
    LONGEST_MONTH_DAYS,
    criteria_problems,
    latency_problems,
    retrieval_problems,
    spend_problems,
    vacuous_criteria,
    volume_problems,
)


def _config(name: str) -> UseCaseConfig:
    return load_use_case(name).config


def _with(config: UseCaseConfig, section: str, **fields) -> UseCaseConfig:
    """`config` with `section`'s `fields` changed (not validated again: the rules see what a file could hold)."""
    changed = getattr(config, section).model_copy(update=fields)
    return config.model_copy(update={section: changed})


@pytest.mark.parametrize("name", ["fixture-triage", "fixture-summary", "fixture-rag"])
def test_consistent_use_cases_break_no_rule(name):
    assert criteria_problems(_config(name)) == []


def test_a_p95_criterion_the_request_cannot_reach_is_refused():
    # Given fixture-triage, whose model calls may take models.model_budget_seconds in all
    config = _config("fixture-triage")
    budget_ms = config.models.model_budget_seconds * 1000
    # When its p95 criterion is just below the retry bound / Then it passes
    assert latency_problems(_with(config, "exit_criteria", p95_latency_ms=int(budget_ms) - 1)) == []
    # and at the bound it cannot fail
    (problem,) = latency_problems(_with(config, "exit_criteria", p95_latency_ms=int(budget_ms)))
    assert "retry bound" in problem and "cannot fail" in problem
    # and above API Gateway's 29 s every bound is passed
    problems = latency_problems(_with(config, "exit_criteria", p95_latency_ms=29_000))
    assert len(problems) == 3 and "API Gateway" in problems[2] and "function's timeout" in problems[1]


def test_a_retrieval_use_cases_p95_bound_counts_its_retrieve_before_its_model_calls():
    # Given fixture-rag: Retrieve may take knowledge.retrieval_budget_seconds before the model calls' budget
    config = _config("fixture-rag")
    models_ms = config.models.model_budget_seconds * 1000
    # When its p95 criterion is at the model calls' bound alone / Then it still can fail (retrieval comes first)
    assert latency_problems(_with(config, "exit_criteria", p95_latency_ms=int(models_ms))) == []
    # and at retrieval + model calls it cannot
    bound_ms = config.request_budget_seconds * 1000
    (problem,) = latency_problems(_with(config, "exit_criteria", p95_latency_ms=int(bound_ms)))
    assert "knowledge: 2 Retrieve attempt(s), then models: 2 attempt(s)" in problem and "cannot fail" in problem


def test_the_charters_volume_at_the_cost_criterion_must_fit_the_daily_cap_and_the_month():
    # Given fixture-triage's cost criterion and charter volume
    config = _config("fixture-triage")
    daily = config.exit_criteria.max_cost_per_request_usd * config.charter.expected_requests_per_day
    # When the daily cap is below a day of expected traffic at the criterion / Then the cap would refuse it
    (problem,) = spend_problems(_with(config, "budget", daily_cap_usd=daily * 0.9))
    assert "budget.daily_cap_usd" in problem and "429" in problem
    # When the monthly budget is below 31 such days (30 fit) / Then the budget would alarm
    month = _with(config, "budget", monthly_usd=daily * (LONGEST_MONTH_DAYS - 0.5), daily_cap_usd=daily)
    (problem,) = spend_problems(month)
    assert "budget.monthly_usd" in problem and f"x {LONGEST_MONTH_DAYS} days" in problem
    # When a day's cap is above the month's budget / Then one capped day would pass it
    assert any(
        "one capped day" in p for p in spend_problems(_with(config, "budget", daily_cap_usd=999, monthly_usd=998))
    )


def test_without_a_charter_only_the_budget_itself_is_checked():
    # Given a config with no charter (no expected volume)
    config = _config("fixture-triage").model_copy(update={"charter": None})
    # Then the volume rules have nothing to hold it to, and the budget's own consistency still counts
    assert spend_problems(config) == [] and volume_problems(config) == []
    assert spend_problems(_with(config, "budget", daily_cap_usd=20, monthly_usd=10))


def test_the_apis_limits_must_admit_the_charters_volume():
    config = _config("fixture-triage")
    charter = config.charter
    # When the usage plan's quota is below the expected requests a day / Then it would refuse them
    (problem,) = volume_problems(_with(config, "api", quota_per_day=charter.expected_requests_per_day - 1))
    assert "api.quota_per_day" in problem
    # (with IAM auth there is no usage plan, so no quota)
    assert volume_problems(_with(config, "api", auth="iam", quota_per_day=1)) == []
    # When the throttle rate is below the expected peak / Then API Gateway would throttle it
    (problem,) = volume_problems(_with(config, "api", throttle_rate_per_s=charter.peak_requests_per_s / 2))
    assert "api.throttle_rate_per_s" in problem


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_accuracy", 0), ("max_error_rate", 1), ("max_invalid_output_rate", 1)],
)
def test_a_criterion_that_accepts_anything_is_refused(field, value):
    problems = vacuous_criteria(_with(_config("fixture-triage"), "exit_criteria", **{field: value}))
    assert problems == [f"exit_criteria.{field} is {value}: it cannot fail"]


@pytest.mark.parametrize("field", ["min_retrieval_recall", "max_hallucination_rate", "max_ungrounded_rate"])
def test_a_retrieval_use_case_without_a_retrieval_criterion_is_refused(field):
    # Given fixture-rag (knowledge, grounding check on) with one retrieval criterion unset
    (problem,) = retrieval_problems(_with(_config("fixture-rag"), "exit_criteria", **{field: None}))
    # Then the rule names it
    assert problem.startswith(f"exit_criteria.{field} is not set")


def test_the_ungrounded_rate_is_wanted_only_where_the_grounding_check_runs():
    config = _config("fixture-rag")
    knowledge = config.knowledge.model_copy(
        update={"grounding": config.knowledge.grounding.model_copy(update={"enabled": False})}
    )
    unchecked = _with(config.model_copy(update={"knowledge": knowledge}), "exit_criteria", max_ungrounded_rate=None)
    assert retrieval_problems(unchecked) == []
    # and a use case that does not retrieve needs none of them
    assert retrieval_problems(_config("fixture-triage")) == []
