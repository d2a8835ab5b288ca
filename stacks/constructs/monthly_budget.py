"""MonthlyBudget: an AWS Budgets cost budget over the use case's resources (by its `use-case`
cost-allocation tag), notifying at actual 80 % and 100 % and forecasted 100 %.

The tag must be activated as a cost-allocation tag once per payer account (Billing console ->
Cost allocation tags), or the budget sees no cost. Budgets data lags by hours: the hard daily cap
in the request path (SpendTable) is what stops a runaway within seconds."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_sns as sns
from constructs import Construct

from liftoff.config import BudgetConfig
from stacks.names import digest

USE_CASE_TAG = "use-case"
# (notification type, percent of the monthly limit)
THRESHOLDS: tuple[tuple[str, int], ...] = (("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100))


def budget_name(prefix: str, budget: BudgetConfig) -> str:
    """Budget names are unique per account and `NotificationsWithSubscribers` can only change by
    replacement (CloudFormation creates the new budget before deleting the old): the name carries the
    Region, and a hash of the notifications so that a new alert e-mail yields a new name."""
    notifications = {"thresholds": THRESHOLDS, "emails": sorted(budget.alert_emails)}
    return f"{prefix}-{Aws.REGION}-{digest(notifications)}"


def tag_filter(use_case: str) -> dict[str, list[str]]:
    """The CostFilters form of a user-defined tag: `user:<key>$<value>`."""
    return {"TagKeyValue": [f"user:{USE_CASE_TAG}${use_case}"]}


class MonthlyBudget(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, name: str, use_case: str, budget: BudgetConfig, topic: sns.ITopic
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
                cost_filters=tag_filter(use_case),
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
