"""Monitoring: the CloudWatch dashboard and the alarms of one use case in one stage.

Plain CDK rather than cdk-monitoring-constructs: most of what is shown here is this template's own
EMF metrics (cost, spend, errors by class) drawn with metric math and exit-criteria annotations,
which that library would only wrap as custom widgets; one file of CDK keeps every widget and
alarm readable next to the config numbers they come from, without a second jsii library to load.

Every threshold comes from the use case's config (exit criteria, daily cap) or the stage's alarm
settings; tests/infra asserts that they match.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from liftoff.foundation.config import CANARY_ALARM_PERIODS, StageConfig, UseCaseConfig, ungrounded_rate_alarmed
from stacks.constructs.golden_canary import GoldenCanary
from stacks.names import regional_name

NAMESPACE = "Liftoff"  # service/observability.py METRICS_NAMESPACE
ERROR_CLASSES = ("ClientError", "Throttled", "ModelError", "SpendCapHit", "GuardrailIntervened", "ServerError")
DAILY_SPEND_ALERT_FRACTION = 0.8
WIDTH = 8  # three widgets a row on the 24-unit grid


@dataclass(frozen=True)
class AlarmSpec:
    """What an alarm watches, for the construct and for the tests that check it against config."""

    name: str
    description: str
    metric: cw.IMetric
    threshold: float
    comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
    evaluation: tuple[int, int] | None = None  # (periods, datapoints to alarm); None: the stage's
    # a period without data: fine for a metric that only exists when something happens (an error, a
    # request); breaching for one whose absence is the failure (a canary run that did not report)
    missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING


# The prompt canary's own alarms: each one ends the canary (GoldenCanary's rollback function)
CANARY_VERSION_ALARMS = ("CanaryVersionAccuracy", "CanaryVersionErrorRate", "CanaryVersionLatencyP95")


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        use_case: UseCaseConfig,
        stage: StageConfig,
        function: lambda_.IFunction,
        api: apigw.RestApi,
        topic: sns.ITopic,
        feedback_function: lambda_.IFunction | None = None,
        canary_period: Duration | None = None,
        golden_canary: GoldenCanary | None = None,
    ):
        super().__init__(scope, construct_id)
        self._use_case = use_case
        self._stage = stage
        self._period = Duration.minutes(stage.alarm_period_minutes)
        self._function = function
        self._api_stage = api.deployment_stage
        self._canary_period = canary_period  # None: the golden canary is off
        self._golden_canary = golden_canary
        self.alarms = {
            spec.name: self._alarm(spec, topic)
            for spec in (*self._alarm_specs(), *self._retrieval_specs(), *self._canary_specs())
        }
        self.canary_version_alarm_names = [
            self._alarm_name(name) for name in CANARY_VERSION_ALARMS if name in self.alarms
        ]
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            # dashboards are global to the account: the name carries the Region (A-Za-z0-9-_, <= 255)
            dashboard_name=regional_name(f"liftoff-{use_case.name}-{stage.name}"),
            default_interval=Duration.hours(24),
            widgets=self._widget_rows(),
        )

    # -- metrics ---------------------------------------------------------------------------------

    def metric(self, name: str, statistic: str = "Sum", label: str | None = None) -> cw.Metric:
        """One of the invoke function's EMF metrics (dimensions UseCase and Stage only)."""
        return cw.Metric(
            namespace=NAMESPACE,
            metric_name=name,
            dimensions_map={"UseCase": self._use_case.name, "Stage": self._stage.name},
            statistic=statistic,
            period=self._period,
            label=label or f"{name} {statistic}",
        )

    def _ratio(self, part_id: str, part: str, whole: str, label: str, *, percent: bool = False) -> cw.MathExpression:
        """`part` / `whole` per period (a period without `part` counts 0); x 100 for a graph in percent."""
        return cw.MathExpression(
            expression=f"{'100 * ' if percent else ''}FILL({part_id}, 0) / requests",
            using_metrics={part_id: self.metric(part), "requests": self.metric(whole)},
            label=label,
            period=self._period,
        )

    def _error_rate(self, error_class: str) -> cw.MathExpression:
        # metric ids must be unique within one graph
        return self._ratio(error_class.lower(), error_class, "Requests", f"{error_class} %", percent=True)

    def _invalid_output_rate(self, percent: bool = False) -> cw.MathExpression:
        """InvalidOutputs / Requests (ModelOutputInvalid answers, after repairs); as a ratio for the alarm."""
        label = "invalid outputs %" if percent else "invalid output rate"
        return self._ratio("invalid", "InvalidOutputs", "Requests", label, percent=percent)

    def _bad_rating_rate(self, percent: bool = False) -> cw.MathExpression:
        """FeedbackBad / all ratings over a UTC day; 0 on a day with fewer than capture.alarm_min_ratings
        ratings (too few to judge)."""
        enough = self._use_case.capture.alarm_min_ratings
        rated = "(FILL(good, 0) + FILL(bad, 0))"
        return cw.MathExpression(
            expression=f"IF({rated} >= {enough}, {'100 * ' if percent else ''}FILL(bad, 0) / {rated}, 0)",
            using_metrics={
                "good": self.metric("FeedbackGood").with_(period=Duration.days(1)),
                "bad": self.metric("FeedbackBad").with_(period=Duration.days(1)),
            },
            label="bad ratings %" if percent else "bad rating rate",
            period=Duration.days(1),
        )

    def _ungrounded_rate(self, percent: bool = False) -> cw.MathExpression:
        """Ungrounded / (Grounded + Ungrounded): the share of checked answers the grounding check found
        unsupported by their passages. Both are emitted (0 or 1) on every checked answer, so a period
        without a checked answer has no data point (missing, not breaching) rather than 0/0."""
        return cw.MathExpression(
            expression=f"{'100 * ' if percent else ''}ungrounded / (grounded + ungrounded)",
            using_metrics={"ungrounded": self.metric("Ungrounded"), "grounded": self.metric("Grounded")},
            label="ungrounded answers %" if percent else "ungrounded rate",
            period=self._period,
        )

    def _retrieval_specs(self) -> list[AlarmSpec]:
        """A use case with `knowledge:` whose answers are checked: the production hallucination rate."""
        if not ungrounded_rate_alarmed(self._use_case):
            return []
        limit = self._use_case.exit_criteria.max_ungrounded_rate
        return [
            AlarmSpec(
                "UngroundedRate",
                f"share of checked answers the grounding check finds ungrounded above the exit criterion "
                f"(max_ungrounded_rate {limit:.1%})",
                self._ungrounded_rate(),
                limit,
            )
        ]

    def _retrieval_widgets(self) -> list[cw.IWidget]:
        """Grounding scores and the ungrounded rate; retrieval latency and questions without a passage."""
        if self._use_case.knowledge is None:
            return []
        widgets: list[cw.IWidget] = []
        limit = self._use_case.exit_criteria.max_ungrounded_rate
        if self._use_case.knowledge.grounding.enabled:
            widgets.append(
                cw.GraphWidget(
                    title="Grounding (score of checked answers; ungrounded %)",
                    width=WIDTH,
                    left=[
                        self.metric("GroundingScore", "Average", "score avg"),
                        self.metric("GroundingScore", "p10", "score p10"),
                    ],
                    left_annotations=[
                        self._line(self._use_case.knowledge.grounding.grounding_threshold, "grounding threshold")
                    ],
                    right=[self._ungrounded_rate(percent=True)],
                    right_annotations=[self._line(100 * limit, "exit criterion (max_ungrounded_rate)")]
                    if limit is not None
                    else [],
                )
            )
        widgets.append(
            cw.GraphWidget(
                title="Retrieval (latency ms; questions with no passage above min_score)",
                width=WIDTH,
                left=[self.metric("RetrievalLatency", stat, f"latency {stat}") for stat in ("p50", "p95")],
                right=[self.metric("NoContext", "Sum", "no context")],
            )
        )
        return widgets

    def _canary_specs(self) -> list[AlarmSpec]:
        criteria = self._use_case.exit_criteria
        specs = [
            AlarmSpec(
                "CanaryVersionErrorRate",
                f"the prompt canary's version fails more requests than max_error_rate ({criteria.max_error_rate:.0%}): "
                "the canary is ended",
                self._ratio("errors", "CanaryVersionErrors", "CanaryVersionRequests", "canary version error rate"),
                criteria.max_error_rate,
            ),
            AlarmSpec(
                "CanaryVersionLatencyP95",
                f"the prompt canary's version is slower than the p95 criterion ({criteria.p95_latency_ms} ms): "
                "the canary is ended",
                self.metric("CanaryVersionLatency", "p95"),
                criteria.p95_latency_ms,
            ),
        ]
        if self._canary_period is not None:
            golden = self._canary_period
            specs += [
                AlarmSpec(
                    "CanaryAccuracy",
                    f"the golden canary's accuracy is below min_accuracy ({criteria.min_accuracy:.0%}) two runs in a row",
                    self.metric("CanaryAccuracy", "Minimum").with_(period=golden),
                    criteria.min_accuracy,
                    cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                    evaluation=(CANARY_ALARM_PERIODS, CANARY_ALARM_PERIODS),
                    # no accuracy is a dead canary (timed out, denied, nothing answered): never healthy
                    missing=cw.TreatMissingData.BREACHING,
                ),
                AlarmSpec(
                    "CanaryVersionAccuracy",
                    f"on the golden cases, the prompt canary's version is below min_accuracy ({criteria.min_accuracy:.0%}): "
                    "the canary is ended",
                    self.metric("CanaryVersionAccuracy", "Minimum").with_(period=golden),
                    criteria.min_accuracy,
                    cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                    evaluation=(1, 1),
                    # no data while no prompt canary runs (or nothing was answered): nothing to end
                ),
            ]
        if self._golden_canary is not None:
            specs += self._canary_health_specs(self._golden_canary)
        return specs

    def _canary_health_specs(self, golden: GoldenCanary) -> list[AlarmSpec]:
        """The golden canary's own machinery: a run that fails or times out, a schedule that cannot invoke
        it, an auto-rollback that fails. Each would otherwise leave every other alarm green."""
        period = self._canary_period or self._period
        specs = [
            AlarmSpec(
                "CanaryErrors",
                "the golden canary function failed or timed out (its run published nothing)",
                golden.canary_function.metric_errors(statistic="Sum", period=period),
                1,
                cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation=(1, 1),
            ),
            AlarmSpec(
                "CanaryRollbackErrors",
                "the function that ends a prompt canary on its alarms failed: end the canary by hand",
                golden.rollback.metric_errors(statistic="Sum", period=self._period),
                1,
                cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation=(1, 1),
            ),
        ]
        if golden.schedule_group is not None:
            specs.append(
                AlarmSpec(
                    "CanaryScheduleFailures",
                    "EventBridge Scheduler could not invoke the golden canary (target errors, throttled or "
                    "dropped invocations)",
                    cw.MathExpression(
                        expression="FILL(errors, 0) + FILL(throttled, 0) + FILL(dropped, 0)",
                        using_metrics={
                            "errors": golden.schedule_group.metric_target_errors(period=period),
                            "throttled": golden.schedule_group.metric_target_throttled(period=period),
                            "dropped": golden.schedule_group.metric_dropped(period=period),
                        },
                        label="failed schedule invocations",
                        period=period,
                    ),
                    1,
                    cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    evaluation=(1, 1),
                )
            )
        return specs

    # -- alarms ----------------------------------------------------------------------------------

    def _alarm_specs(self) -> list[AlarmSpec]:
        criteria = self._use_case.exit_criteria
        cap = self._use_case.budget.daily_cap_usd
        return [
            AlarmSpec(
                "LatencyP95",
                f"p95 end-to-end latency above the exit criterion ({criteria.p95_latency_ms} ms)",
                self.metric("Latency", "p95"),
                criteria.p95_latency_ms,
            ),
            AlarmSpec(
                "CostPerRequest",
                f"average cost per request above the exit criterion (${criteria.max_cost_per_request_usd})",
                self.metric("CostUSD", "Average"),
                criteria.max_cost_per_request_usd,
            ),
            AlarmSpec(
                "InvalidOutputRate",
                f"share of answers breaking the prompt's output schema above the exit criterion "
                f"({criteria.max_invalid_output_rate:.1%})",
                self._invalid_output_rate(),
                criteria.max_invalid_output_rate,
            ),
            AlarmSpec(
                "DailySpend",
                f"today's spend above {DAILY_SPEND_ALERT_FRACTION:.0%} of the daily cap (${cap})",
                self.metric("SpendTodayUSD", "Maximum"),
                round(cap * DAILY_SPEND_ALERT_FRACTION, 6),
            ),
            AlarmSpec(
                "SpendCapHit",
                "requests refused: the daily spend cap is reached",
                self.metric("SpendCapHit"),
                1,
                cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            AlarmSpec(
                "Api5xxRate",
                f"API 5xx rate above {self._stage.max_5xx_rate:.0%}",
                self._api_stage.metric_server_error(statistic="Average", period=self._period),
                self._stage.max_5xx_rate,
            ),
            AlarmSpec(
                "ModelThrottling",
                f"Bedrock throttled at least {self._stage.max_model_throttles_per_period} requests "
                f"(after retries) in {self._stage.alarm_period_minutes} min",
                self.metric("Throttled"),
                self._stage.max_model_throttles_per_period,
                cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            AlarmSpec(
                "FeedbackBadRate",
                f"share of answers users rated bad over a day above 1 - min_accuracy "
                f"({1 - criteria.min_accuracy:.0%}; days with {self._use_case.capture.alarm_min_ratings}+ ratings)",
                self._bad_rating_rate(),
                round(1 - criteria.min_accuracy, 6),
            ),
            AlarmSpec(
                "LambdaThrottles",
                "the invoke function was throttled (reserved or account concurrency exhausted)",
                self._function.metric_throttles(statistic="Sum", period=self._period),
                1,
                cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
        ]

    def _alarm_name(self, name: str) -> str:
        return f"liftoff-{self._use_case.name}-{self._stage.name}-{name}"

    def _alarm(self, spec: AlarmSpec, topic: sns.ITopic) -> cw.Alarm:
        # money: one breaching period is enough; ratings: the period is a whole day
        immediate = spec.name in ("DailySpend", "SpendCapHit", "FeedbackBadRate")
        periods, datapoints = spec.evaluation or (
            (1, 1) if immediate else (self._stage.alarm_evaluation_periods, self._stage.alarm_datapoints)
        )
        alarm = cw.Alarm(
            self,
            spec.name,
            alarm_name=self._alarm_name(spec.name),
            alarm_description=f"{self._use_case.name} ({self._stage.name}): {spec.description}",
            metric=spec.metric,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints,
            treat_missing_data=spec.missing,
        )
        action = cw_actions.SnsAction(topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm

    # -- dashboard -------------------------------------------------------------------------------

    def _line(self, value: float, label: str) -> cw.HorizontalAnnotation:
        return cw.HorizontalAnnotation(value=value, label=label, color=cw.Color.RED)

    def _widget_rows(self) -> list[list[cw.IWidget]]:
        criteria = self._use_case.exit_criteria
        cap = self._use_case.budget.daily_cap_usd
        daily_cost = self.metric("CostUSD", "Sum").with_(period=Duration.days(1))
        return [
            [
                cw.GraphWidget(
                    title="Cost per request (USD)",
                    width=WIDTH,
                    left=[self.metric("CostUSD", "Average", "avg"), self.metric("CostUSD", "p90", "p90")],
                    left_annotations=[
                        self._line(criteria.max_cost_per_request_usd, "exit criterion: max cost per request")
                    ],
                ),
                cw.GraphWidget(
                    title="Spend today (USD, UTC day, from the spend counter)",
                    width=WIDTH,
                    left=[self.metric("SpendTodayUSD", "Maximum", "spent today")],
                    left_annotations=[
                        self._line(cap, "daily cap: requests refused"),
                        cw.HorizontalAnnotation(
                            value=cap * DAILY_SPEND_ALERT_FRACTION, label="alarm", color=cw.Color.ORANGE
                        ),
                    ],
                ),
                cw.GraphWidget(
                    title="Spend, last 30 days (USD, running sum)",
                    width=WIDTH,
                    start="-P30D",
                    period=Duration.days(1),
                    left=[
                        cw.MathExpression(
                            expression="RUNNING_SUM(daily)",
                            using_metrics={"daily": daily_cost},
                            label="running total",
                            period=Duration.days(1),
                        ),
                        daily_cost.with_(label="per day"),
                    ],
                    left_annotations=[self._line(self._use_case.budget.monthly_usd, "monthly budget")],
                ),
            ],
            [
                cw.GraphWidget(
                    title="Requests and errors",
                    width=WIDTH,
                    left=[self.metric("Requests"), self.metric("Errors")],
                ),
                cw.GraphWidget(
                    title="Error rate by class (%)",
                    width=WIDTH,
                    left=[self._error_rate(name) for name in ERROR_CLASSES],
                ),
                cw.GraphWidget(
                    title="Throttles (count)",
                    width=WIDTH,
                    left=[
                        self.metric("Throttled", label="Bedrock (after retries)"),
                        self._api_stage.metric_client_error(period=self._period, label="API Gateway 4xx (incl. 429)"),
                        self._function.metric_throttles(period=self._period, label="Lambda"),
                    ],
                ),
            ],
            [
                cw.GraphWidget(
                    title="Latency end to end (ms)",
                    width=WIDTH,
                    left=[self.metric("Latency", stat, stat) for stat in ("p50", "p95", "p99")],
                    left_annotations=[self._line(criteria.p95_latency_ms, "exit criterion: p95")],
                ),
                cw.GraphWidget(
                    title="Model latency (ms)",
                    width=WIDTH,
                    left=[self.metric("ModelLatency", stat, stat) for stat in ("p50", "p95", "p99")],
                    left_annotations=[self._line(criteria.p95_latency_ms, "exit criterion: p95 (end to end)")],
                ),
                cw.GraphWidget(
                    title="Tokens",
                    width=WIDTH,
                    left=[self.metric("InputTokens", label="in"), self.metric("OutputTokens", label="out")],
                ),
            ],
            [
                cw.GraphWidget(
                    title="Invalid outputs (% of requests, after repairs)",
                    width=WIDTH,
                    left=[self._invalid_output_rate(percent=True)],
                    right=[self.metric("OutputRepairs", "Sum", label="repairs")],
                    left_annotations=[
                        self._line(100 * criteria.max_invalid_output_rate, "exit criterion (max_invalid_output_rate)")
                    ],
                ),
                cw.GraphWidget(
                    title="Lambda duration (ms)",
                    width=WIDTH,
                    left=[
                        self._function.metric_duration(statistic=stat, period=self._period, label=stat)
                        for stat in ("p50", "p95", "Maximum")
                    ],
                ),
                cw.GraphWidget(
                    title="Lambda concurrency",
                    width=WIDTH,
                    left=[
                        cw.Metric(
                            namespace="AWS/Lambda",
                            metric_name="ConcurrentExecutions",
                            dimensions_map={"FunctionName": self._function.function_name},
                            statistic="Maximum",
                            period=self._period,
                            label="max concurrent",
                        )
                    ],
                ),
                cw.GraphWidget(
                    title="Bad ratings (% of rated answers, per UTC day)",
                    width=WIDTH,
                    left=[self._bad_rating_rate(percent=True)],
                    right=[
                        self.metric("FeedbackGood", label="good").with_(period=Duration.days(1)),
                        self.metric("FeedbackBad", label="bad").with_(period=Duration.days(1)),
                    ],
                    left_annotations=[
                        self._line(100 * (1 - criteria.min_accuracy), "1 - min_accuracy (exit criterion)")
                    ],
                ),
                cw.GraphWidget(
                    title="Golden canary accuracy (stable, and a prompt canary's version)",
                    width=WIDTH,
                    left=[
                        self.metric("CanaryAccuracy", "Minimum", "stable").with_(
                            period=self._canary_period or self._period
                        ),
                        self.metric("CanaryVersionAccuracy", "Minimum", "canary version").with_(
                            period=self._canary_period or self._period
                        ),
                    ],
                    left_annotations=[self._line(criteria.min_accuracy, "exit criterion: min_accuracy")],
                ),
                *self._retrieval_widgets(),
                cw.AlarmStatusWidget(
                    title="Alarms",
                    width=WIDTH,
                    alarms=list(self.alarms.values()),
                    sort_by=cw.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
                ),
            ],
        ]
