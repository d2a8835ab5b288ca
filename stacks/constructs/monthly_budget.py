"""MonthlyBudget: an AWS Budgets cost budget over the use case's resources in one stage (its
`use-case` AND `stage` cost-allocation tags), notifying at actual 80 % and 100 % and forecasted 100 %.

Both tags must be activated as cost-allocation tags once per payer account (Billing console ->
Cost allocation tags), or the budget sees no cost. Budgets is account-wide and the filter names no
Region: the budget counts the use case's stage in every Region of the account (a deployment in a
second Region adds a second budget, by its name, over the same spend). Budgets data lags by hours: the hard daily cap
in the request path (SpendTable) is what stops a runaway within seconds."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_sns as sns
from constructs import Construct

from liftoff.foundation.config import STAGE_TAG, USE_CASE_TAG, BudgetConfig
from liftoff.foundation.names import digest

__all__ = ["STAGE_TAG", "USE_CASE_TAG", "MonthlyBudget", "budget_name", "tag_filter"]
# what the budget sums: unblended cost, the measure the CostTypes defaults gave (FilterExpression
# goes with Metrics, CostFilters with CostTypes: one pair or the other, per the Budgets API)
METRIC = "UnblendedCost"
# (notification type, percent of the monthly limit)
THRESHOLDS: tuple[tuple[str, int], ...] = (("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100))


def budget_name(prefix: str, budget: BudgetConfig) -> str:
    """Budget names are unique per account and `NotificationsWithSubscribers` can only change by
    replacement (CloudFormation creates the new budget before deleting the old): the name carries the
    Region, and a hash of the notifications so that a new alert e-mail yields a new name."""
    notifications = {"thresholds": THRESHOLDS, "emails": sorted(budget.alert_emails)}
    return f"{prefix}-{Aws.REGION}-{digest(notifications)}"


def tag_filter(use_case: str, stage: str) -> budgets.CfnBudget.ExpressionProperty:
    """Cost tagged with this use case AND this stage: another stage's traffic in the same account
    is not this budget's."""

    # the tag's own key, as in Cost Explorer's Expression (CostFilters wrote `user:<key>$<value>`)
    def tag_is(key: str, value: str) -> budgets.CfnBudget.ExpressionProperty:
        return budgets.CfnBudget.ExpressionProperty(
            tags=budgets.CfnBudget.TagValuesProperty(key=key, values=[value], match_options=["EQUALS"])
        )

    return budgets.CfnBudget.ExpressionProperty(and_=[tag_is(USE_CASE_TAG, use_case), tag_is(STAGE_TAG, stage)])


class MonthlyBudget(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        use_case: str,
        stage: str,
        budget: BudgetConfig,
        topic: sns.ITopic,
    ):
        super().__init__(scope, construct_id)
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)]
        subscribers += [
            budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=email)
            for email in budget.alert_emails
        ]
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=budget_name(name, budget),
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=budget.monthly_usd, unit="USD"),
                filter_expression=tag_filter(use_case, stage),
                metrics=[METRIC],
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for kind, percent in THRESHOLDS
            ],
        )
