"""Rules that hold a use case's exit criteria to its timeouts, limits, budget and charter: what
liftoff/foundation/config.py cannot check field by field at load time. (It already refuses rates outside 0-1, a
model budget over what API Gateway can wait, a reserved concurrency below throttle rate x p95, and retrieval
criteria without `knowledge:`.) Each rule returns what is inconsistent, in words a team can act on; none: []."""

from __future__ import annotations

from liftoff.foundation.config import API_GATEWAY_MAX_TIMEOUT_S, UseCaseConfig

# AWS Budgets judges a calendar month: the longest one has 31 days of the daily spend
LONGEST_MONTH_DAYS = 31


def latency_problems(config: UseCaseConfig) -> list[str]:
    """p95_latency_ms within what a request can take: a criterion at or above the bound cannot fail (a slower
    request is cut off, a timeout, not a latency sample)."""
    models, p95 = config.models, config.exit_criteria.p95_latency_ms
    retrieval = f"knowledge: {config.knowledge.max_attempts} Retrieve attempt(s), then " if config.knowledge else ""
    bounds = {
        f"the Bedrock calls' retry bound ({retrieval}models: {models.max_attempts} attempt(s), backoff"
        + (", the fallback" if models.fallback else "")
        + ")": config.request_budget_seconds,
        "the invoke function's timeout": config.lambda_timeout_seconds,
        "API Gateway's integration timeout": API_GATEWAY_MAX_TIMEOUT_S,
    }
    return [
        f"exit_criteria.p95_latency_ms {p95} is not below {what}, {seconds * 1000:g} ms: it cannot fail"
        for what, seconds in bounds.items()
        if p95 >= seconds * 1000
    ]


def spend_problems(config: UseCaseConfig) -> list[str]:
    """The charter's volume at the cost criterion fits the daily cap and the monthly budget, and a day's cap fits
    in the month's budget. Without a charter there is no volume to hold it to (readiness says NO-GO for that)."""
    budget, problems = config.budget, []
    if budget.daily_cap_usd > budget.monthly_usd:
        problems.append(
            f"budget.daily_cap_usd {budget.daily_cap_usd:g} is above budget.monthly_usd {budget.monthly_usd:g}: "
            "one capped day would pass the month's budget"
        )
    if config.charter is None:
        return problems
    per_request, per_day = config.exit_criteria.max_cost_per_request_usd, config.charter.expected_requests_per_day
    daily = per_request * per_day
    worst = f"exit_criteria.max_cost_per_request_usd {per_request:g} x charter.expected_requests_per_day {per_day}"
    if daily > budget.daily_cap_usd:
        problems.append(
            f"{worst} = {daily:g} USD a day, above budget.daily_cap_usd {budget.daily_cap_usd:g}: the cap would "
            "refuse the expected traffic (429) on a day within the criterion"
        )
    if daily * LONGEST_MONTH_DAYS > budget.monthly_usd:
        problems.append(
            f"{worst} x {LONGEST_MONTH_DAYS} days = {daily * LONGEST_MONTH_DAYS:g} USD, above budget.monthly_usd "
            f"{budget.monthly_usd:g}: the budget would alarm on a month within the criterion"
        )
    return problems


def volume_problems(config: UseCaseConfig) -> list[str]:
    """The API's limits admit the charter's volume: the usage plan's daily quota and the throttle rate."""
    if config.charter is None:
        return []
    api, charter, problems = config.api, config.charter, []
    if api.auth == "api_key" and api.quota_per_day < charter.expected_requests_per_day:
        problems.append(
            f"api.quota_per_day {api.quota_per_day} is below charter.expected_requests_per_day "
            f"{charter.expected_requests_per_day}: the usage plan would refuse the expected traffic"
        )
    if api.throttle_rate_per_s < charter.peak_requests_per_s:
        problems.append(
            f"api.throttle_rate_per_s {api.throttle_rate_per_s:g} is below charter.peak_requests_per_s "
            f"{charter.peak_requests_per_s:g}: API Gateway would throttle the expected peak"
        )
    return problems


def vacuous_criteria(config: UseCaseConfig) -> list[str]:
    """Every criterion set can fail: a minimum of 0 or a maximum rate of 1 accepts anything."""
    criteria = config.exit_criteria
    minimums = {"min_accuracy": criteria.min_accuracy, "min_retrieval_recall": criteria.min_retrieval_recall}
    maximums = {
        "max_error_rate": criteria.max_error_rate,
        "max_invalid_output_rate": criteria.max_invalid_output_rate,
        "max_ungrounded_rate": criteria.max_ungrounded_rate,
        "max_hallucination_rate": criteria.max_hallucination_rate,
    }
    return [f"exit_criteria.{field} is 0: it cannot fail" for field, value in minimums.items() if value == 0] + [
        f"exit_criteria.{field} is 1: it cannot fail" for field, value in maximums.items() if value == 1
    ]


def retrieval_problems(config: UseCaseConfig) -> list[str]:
    """A knowledge use case is held to the retrieval criteria: recall and hallucination in the eval, and the
    ungrounded rate in production when the grounding check runs (the `UngroundedRate` alarm needs it)."""
    knowledge, criteria = config.knowledge, config.exit_criteria
    if knowledge is None:
        return []
    wanted = {
        "min_retrieval_recall": criteria.min_retrieval_recall,
        "max_hallucination_rate": criteria.max_hallucination_rate,
    }
    if knowledge.grounding.enabled:
        wanted["max_ungrounded_rate"] = criteria.max_ungrounded_rate
    return [
        f"exit_criteria.{field} is not set, and the use case retrieves (`knowledge:`): nothing measures that"
        for field, value in wanted.items()
        if value is None
    ]


RULES = (latency_problems, spend_problems, volume_problems, vacuous_criteria, retrieval_problems)


def criteria_problems(config: UseCaseConfig) -> list[str]:
    """Every rule's findings for `config`."""
    return [problem for rule in RULES for problem in rule(config)]
